/**
 * The watcher's connection to a certstream feed, as a **durable subscription** (interface.md,
 * "Lossless delivery"): it connects with `id=NAME`, and the server counts a frame as confirmed once the
 * client answered a ping sent after it. So this client answers pings itself (`autoPong: false`), and
 * only once every frame received before the ping has been processed — matched and committed to the
 * store. A `kill -9` at any moment therefore loses nothing: what was not committed was not confirmed,
 * and the server replays it on the next connection (the store ignores what it already has).
 *
 * Frames are processed in order, in batches, by one `onFrames` call at a time. While processing is
 * behind by more than `maxQueued` frames the socket is paused (TCP backpressure; the server keeps a
 * durable client's backlog in its replay window instead of dropping it). Liveness: a ping every
 * `pingIntervalMs`; a peer that sends nothing (no frame, ping or pong) for two intervals is dropped.
 * Reconnects use capped exponential backoff with jitter.
 */
import WebSocket from 'ws';
import { backoffDelay } from '../ct/backoff.js';
import { describeError } from '../errors.js';

/** Settings of a DurableFeed. */
export interface DurableFeedOptions {
  /** ws:// or wss:// URL of the stream (the `id` parameter is added). */
  url: string;
  /** Subscription name (1–64 of A-Z a-z 0-9 . _ -). */
  id: string;
  /** Processes frames in order; the returned promise resolves once they are durably handled. */
  onFrames: (frames: string[]) => Promise<void>;
  /** Connection state changes (for the feed_up gauge and logs). */
  onState?: (up: boolean, detail: string) => void;
  /** Called once when onFrames failed (processing stops; the runner decides what follows). */
  onFailure?: (err: unknown) => void;
  /** Most frames handed to one onFrames call (default 500). */
  batchSize?: number;
  /** Frames queued before the socket is paused (default 5_000). */
  maxQueued?: number;
  /** Client ping interval in ms (default 15_000). */
  pingIntervalMs?: number;
  /** First reconnect delay in ms (default 500). */
  backoffBaseMs?: number;
  /** Reconnect delay cap in ms (default 30_000). */
  backoffMaxMs?: number;
  /** Opening handshake timeout in ms (default 10_000). */
  handshakeTimeoutMs?: number;
}

/** `url` with `id=NAME` set (other query parameters kept). */
export function durableUrl(url: string, id: string): string {
  const u = new URL(url);
  u.searchParams.set('id', id);
  return u.toString();
}

export class DurableFeed {
  private readonly o: DurableFeedOptions;
  private ws: WebSocket | undefined;
  private queue: string[] = [];
  /**
   * Frames received / processed since start, across connections (frames still queued from an older
   * connection are processed first, so a ping's mark stays correct after a reconnect).
   */
  private received = 0;
  private processed = 0;
  /** Pings to answer once `processed` reaches their mark. */
  private pings: { mark: number; data: Buffer }[] = [];
  private processing: Promise<void> | undefined;
  private stopped = true;
  private paused = false;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private alive = false;
  private failure: unknown;
  /** True while the WebSocket is open. */
  up = false;

  constructor(options: DurableFeedOptions) {
    this.o = options;
  }

  /** Starts connecting. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.open();
  }

  private open(): void {
    if (this.stopped) return;
    const ws = new WebSocket(durableUrl(this.o.url, this.o.id), {
      autoPong: false,
      perMessageDeflate: false,
      handshakeTimeout: this.o.handshakeTimeoutMs ?? 10_000,
    });
    this.ws = ws;
    let lastError: string | undefined;
    ws.on('open', () => {
      this.up = true;
      this.attempt = 0;
      this.alive = true;
      this.pings = [];
      this.o.onState?.(true, 'connected');
      const every = this.o.pingIntervalMs ?? 15_000;
      this.pingTimer = setInterval(() => {
        if (!this.alive && !this.paused) {
          lastError = 'no frame, ping or pong within the ping interval';
          ws.terminate();
          return;
        }
        this.alive = false;
        ws.ping();
      }, every);
    });
    ws.on('message', (data, isBinary) => {
      this.alive = true;
      if (isBinary) return;
      this.queue.push(String(data));
      this.received++;
      if (!this.paused && this.queue.length >= (this.o.maxQueued ?? 5_000)) {
        this.paused = true;
        ws.pause();
      }
      this.pump();
    });
    ws.on('ping', (data) => {
      this.alive = true;
      this.pings.push({ mark: this.received, data });
      this.answerPings(ws);
    });
    ws.on('pong', () => {
      this.alive = true;
    });
    ws.on('error', (err) => {
      lastError = describeError(err);
    });
    ws.on('close', (code, reason) => {
      if (this.pingTimer) clearInterval(this.pingTimer);
      this.pingTimer = undefined;
      if (this.ws === ws) this.ws = undefined;
      this.paused = false;
      this.pings = [];
      const detail = reason.toString() || lastError || `closed with code ${code}`;
      if (this.up) {
        this.up = false;
        this.o.onState?.(false, detail);
      } else if (!this.stopped) this.o.onState?.(false, `connection failed: ${detail}`);
      if (this.stopped) return;
      this.attempt++;
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.open();
      }, backoffDelay(this.attempt, { baseMs: this.o.backoffBaseMs ?? 500, maxMs: this.o.backoffMaxMs ?? 30_000 }));
    });
  }

  /** Answers every ping whose preceding frames are all processed, in order. */
  private answerPings(ws: WebSocket): void {
    while (this.pings.length > 0 && this.pings[0].mark <= this.processed) {
      const p = this.pings.shift()!;
      if (ws.readyState === WebSocket.OPEN) ws.pong(p.data);
    }
  }

  /** Starts the processing loop unless it runs. */
  private pump(): void {
    if (this.processing || this.failure !== undefined) return;
    this.processing = this.drain().finally(() => {
      this.processing = undefined;
    });
  }

  private async drain(): Promise<void> {
    const size = this.o.batchSize ?? 500;
    while (this.queue.length > 0 && !this.stopped) {
      const batch = this.queue.splice(0, size);
      try {
        await this.o.onFrames(batch);
      } catch (err) {
        // Not processed, so not confirmed: drop the connection; the server replays from the last
        // confirmed frame, and the caller decides whether to go on (it is told through `failed`).
        this.failure = err;
        this.queue = [];
        this.ws?.terminate();
        this.o.onFailure?.(err);
        return;
      }
      this.processed += batch.length;
      this.alive = true;
      const ws = this.ws;
      if (ws) {
        this.answerPings(ws);
        if (this.paused && this.queue.length < (this.o.maxQueued ?? 5_000) / 2) {
          this.paused = false;
          ws.resume();
        }
      }
    }
  }

  /** The error that stopped processing, if any (the runner treats it as fatal). */
  get failed(): unknown {
    return this.failure;
  }

  /**
   * Stops: no reconnects; the batch being processed finishes (and is confirmed if a ping is
   * waiting for it), frames still queued are left unconfirmed for the next run; the socket is closed.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.processing;
    const ws = this.ws;
    if (!ws) return;
    const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
    ws.close(1000, 'certstream-watch stopping');
    const t = setTimeout(() => ws.terminate(), 2_000);
    await closed;
    clearTimeout(t);
  }
}
