/**
 * The watcher's connection to a certstream feed, as a **durable subscription** (interface.md,
 * "Lossless delivery"), through the project's client library in its process mode (src/client/): it
 * connects with `id=NAME` and answers the server's pings itself, only once every frame received before
 * the ping has been processed — matched and committed to the store. A `kill -9` at any moment therefore
 * loses nothing: what was not committed was not confirmed, and the server replays it on the next
 * connection (the store ignores what it already has).
 *
 * Frames are processed in order, in batches, by one `onFrames` call at a time; while processing is behind
 * by more than `maxQueued` frames the socket is paused. Liveness: a ping every `pingIntervalMs`; a peer
 * that sends nothing for two intervals is dropped (not while paused on purpose). Reconnects use capped
 * exponential backoff with jitter.
 */
import { Subscription } from '../client/subscription.js';
import type { CaCertificates } from '../client/trust.js';

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
  /** Access token of a server with --tokens (sent as `?token=`; the subscription's shown URL masks it). */
  token?: string;
  /** `wss://`: a CA to trust besides the system's. */
  ca?: CaCertificates;
}

/** `url` with `id=NAME` set (other query parameters kept). */
export function durableUrl(url: string, id: string): string {
  const u = new URL(url);
  u.searchParams.set('id', id);
  return u.toString();
}

export class DurableFeed {
  private sub: Subscription | undefined;
  private failure: unknown;

  constructor(private readonly o: DurableFeedOptions) {}

  /** True while the WebSocket is open. */
  get up(): boolean {
    return this.sub?.up ?? false;
  }

  /** Starts connecting. */
  start(): void {
    if (this.sub) return;
    const { o } = this;
    const sub = new Subscription(durableUrl(o.url, o.id), {
      process: (frames) => o.onFrames(frames),
      batchSize: o.batchSize,
      maxQueued: o.maxQueued,
      heartbeatIntervalMs: o.pingIntervalMs ?? 15_000,
      backoffBaseMs: o.backoffBaseMs ?? 500,
      backoffMaxMs: o.backoffMaxMs ?? 30_000,
      handshakeTimeoutMs: o.handshakeTimeoutMs ?? 10_000,
      token: o.token,
      ca: o.ca,
    });
    this.sub = sub;
    sub.on('connect', () => o.onState?.(true, 'connected'));
    sub.on('disconnect', ({ code, reason }) => o.onState?.(false, reason || `closed with code ${code}`));
    sub.on('attemptFailed', ({ reason }) => o.onState?.(false, `connection failed: ${reason}`));
    sub.on('failure', (err) => {
      // Not processed, so not confirmed: the subscription ends and the server replays from the last
      // confirmed frame next time; the caller decides whether to go on.
      this.failure = err;
      o.onFailure?.(err);
    });
  }

  /** The error that stopped processing, if any (the runner treats it as fatal). */
  get failed(): unknown {
    return this.failure;
  }

  /**
   * Stops: no reconnects; the batch being processed finishes (and is confirmed if a ping is waiting for
   * it), frames still queued are left unconfirmed for the next run; the socket is closed.
   */
  async stop(): Promise<void> {
    await this.sub?.close();
  }
}
