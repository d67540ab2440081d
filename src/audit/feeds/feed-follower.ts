/**
 * Follows one certstream WebSocket feed for `certaudit`, through the project's client library
 * (src/client/) with its repeat filter off: certaudit judges the feed itself, so every frame counts,
 * repeats included. The library reconnects with capped exponential backoff and jitter and drops a peer
 * that sends nothing (no frame, no pong) between two pings (every 15 s by default, as the official
 * clients). Every frame becomes a FeedEvent stamped with its arrival time; connects and disconnects
 * (close code and reason, or the error) are events too, so the comparator can compute downtime and
 * reconnect loss.
 */
import { Subscription } from '../../client/subscription.js';
import type { CaCertificates } from '../../client/trust.js';
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
  /** Access token of a server with --tokens (sent as `?token=`, shown nowhere). */
  token?: string;
  /** `wss://`: a CA to trust besides the system's. */
  ca?: CaCertificates;
}

export class FeedFollower {
  private readonly now: () => number;
  private sub: Subscription | undefined;
  /** Last connection error or close description, for status lines. */
  lastError: string | undefined;
  /** True once the feed has been connected at least once. */
  everConnected = false;

  constructor(private readonly opts: FeedFollowerOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** True while the WebSocket is open. */
  get up(): boolean {
    return this.sub?.up ?? false;
  }

  /** Starts connecting (idempotent). */
  start(): void {
    if (this.sub) return;
    const { onEvent } = this.opts;
    const sub = new Subscription(this.opts.url, {
      dedupe: false,
      heartbeatIntervalMs: this.opts.pingIntervalMs ?? 15_000,
      backoffBaseMs: this.opts.backoffBaseMs ?? 1_000,
      backoffMaxMs: this.opts.backoffMaxMs ?? 30_000,
      handshakeTimeoutMs: this.opts.handshakeTimeoutMs ?? 10_000,
      token: this.opts.token,
      ca: this.opts.ca,
    });
    this.sub = sub;
    sub.on('connect', () => {
      this.everConnected = true;
      onEvent({ ev: 'connect', t: this.now() });
    });
    sub.on('frame', (bytes, binary) => {
      const t = this.now();
      if (binary) return onEvent({ ev: 'other', t });
      const f = parseFeedFrameBytes(bytes);
      if (f.kind === 'entry') onEvent({ ev: 'entry', t, log: f.log, index: f.index });
      else onEvent({ ev: f.kind, t });
    });
    sub.on('disconnect', ({ code, reason }) => {
      const e: FeedEvent = { ev: 'disconnect', t: this.now(), code };
      if (reason) e.reason = reason;
      this.lastError = reason || undefined;
      onEvent(e);
    });
    sub.on('attemptFailed', ({ reason }) => {
      this.lastError = reason;
      this.opts.onAttemptFailed?.(reason);
    });
  }

  /**
   * Stops following: no more reconnects, closes the socket, resolves once it is closed. Our own stop
   * is not a disconnect of the feed, so no event is emitted for it.
   */
  async stop(): Promise<void> {
    const sub = this.sub;
    if (sub) await sub.close();
  }
}
