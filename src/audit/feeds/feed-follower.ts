/**
 * Follows one certstream WebSocket feed for `certaudit`, reconnecting on its own like the official
 * clients: a ping every 15 s (a peer that answers neither with a pong nor with any frame before the
 * next ping is terminated), and capped exponential backoff with jitter between attempts. Every frame
 * becomes a FeedEvent stamped with its arrival time; connects and disconnects (close code and reason,
 * or the error) are events too, so the comparator can compute downtime and reconnect loss.
 */
import WebSocket from 'ws';
import { backoffDelay } from '../../ct/backoff.js';
import { describeError } from '../../errors.js';
import type { FeedEvent } from './feed-event.js';
import { parseFeedFrameBytes } from './feed-frame.js';

/** Options of a FeedFollower. */
export interface FeedFollowerOptions {
  /** ws:// or wss:// URL of the feed. */
  url: string;
  /** Receives every event, synchronously, in order. */
  onEvent: (e: FeedEvent) => void;
  /** Called when a connection attempt fails before the socket opened (for status lines and logs). */
  onAttemptFailed?: (error: string) => void;
  /** Ping interval in ms (default 15_000, as the official clients). */
  pingIntervalMs?: number;
  /** First reconnect delay in ms (default 1_000). */
  backoffBaseMs?: number;
  /** Reconnect delay cap in ms (default 30_000). */
  backoffMaxMs?: number;
  /** Opening handshake timeout in ms (default 10_000). */
  handshakeTimeoutMs?: number;
  /** Clock in ms since the epoch (default Date.now). */
  now?: () => number;
}

export class FeedFollower {
  private readonly opts: FeedFollowerOptions;
  private readonly now: () => number;
  private ws: WebSocket | undefined;
  private stopped = true;
  private connected = false;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private alive = false;
  /** Last connection error or close description, for status lines. */
  lastError: string | undefined;
  /** True once the feed has been connected at least once. */
  everConnected = false;

  constructor(options: FeedFollowerOptions) {
    this.opts = options;
    this.now = options.now ?? Date.now;
  }

  /** True while the WebSocket is open. */
  get up(): boolean {
    return this.connected;
  }

  /** Starts connecting (idempotent). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.open();
  }

  private open(): void {
    if (this.stopped) return;
    const ws = new WebSocket(this.opts.url, {
      handshakeTimeout: this.opts.handshakeTimeoutMs ?? 10_000,
      perMessageDeflate: false,
    });
    this.ws = ws;
    ws.on('open', () => {
      this.connected = true;
      this.everConnected = true;
      this.attempt = 0;
      this.alive = true;
      this.opts.onEvent({ ev: 'connect', t: this.now() });
      this.pingTimer = setInterval(() => this.checkAlive(ws), this.opts.pingIntervalMs ?? 15_000);
    });
    ws.on('pong', () => {
      this.alive = true;
    });
    ws.on('message', (data, isBinary) => {
      this.alive = true;
      const t = this.now();
      if (isBinary) {
        this.opts.onEvent({ ev: 'other', t });
        return;
      }
      const f = parseFeedFrameBytes(Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data));
      if (f.kind === 'entry') this.opts.onEvent({ ev: 'entry', t, log: f.log, index: f.index });
      else this.opts.onEvent({ ev: f.kind, t });
    });
    ws.on('error', (err) => {
      this.lastError = describeError(err);
    });
    ws.on('close', (code, reasonBuf) => {
      if (this.pingTimer) clearInterval(this.pingTimer);
      this.pingTimer = undefined;
      const reason = reasonBuf.toString() || this.lastError;
      if (this.connected) {
        this.connected = false;
        const e: FeedEvent = { ev: 'disconnect', t: this.now(), code };
        if (reason) e.reason = reason;
        this.opts.onEvent(e);
      } else {
        this.opts.onAttemptFailed?.(reason ?? `closed with code ${code}`);
      }
      this.lastError = undefined;
      if (this.ws === ws) this.ws = undefined;
      this.scheduleReconnect();
    });
  }

  /** Runs every ping interval: a peer silent since the last ping is dead. */
  private checkAlive(ws: WebSocket): void {
    if (!this.alive) {
      this.lastError = 'no pong or frame within the ping interval';
      ws.terminate();
      return;
    }
    this.alive = false;
    ws.ping();
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    this.attempt++;
    const delay = backoffDelay(this.attempt, {
      baseMs: this.opts.backoffBaseMs ?? 1_000,
      maxMs: this.opts.backoffMaxMs ?? 30_000,
    });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.open();
    }, delay);
  }

  /**
   * Stops following: no more reconnects, closes the socket, resolves once it is closed. Our own stop
   * is not a disconnect of the feed, so no event is emitted for it.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const ws = this.ws;
    if (!ws) return;
    const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
    if (this.connected) {
      this.connected = false;
      if (this.pingTimer) clearInterval(this.pingTimer);
      this.pingTimer = undefined;
    }
    ws.terminate();
    await closed;
  }
}
