/**
 * The connection to NATS: connects in the background and keeps retrying with capped, jittered
 * exponential backoff (the server starts, binds and serves while NATS is away), then lets the client
 * library reconnect on the same schedule for as long as it takes. Connection state is visible as
 * `connected`, `lastError`, the `certstream_nats_connected` gauge and one log line per change.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { backoffDelay, sleep } from '../ct/backoff.js';
import { CertstreamError, describeError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { NatsMetrics } from './nats-metrics.js';

export interface NatsLinkOptions {
  /** Server URLs (`--nats`, split on commas). */
  servers: string[];
  /** Connection name shown by the NATS server (`certstream-server <role>`). */
  name: string;
  logger: Logger;
  metrics: NatsMetrics;
  /** Backoff between attempts (default 250 ms doubling up to 10 s). */
  backoff?: { baseMs?: number; maxMs?: number };
}

export class NatsLink {
  connected = false;
  lastError: string | null = 'not connected yet';
  private nc: NatsConnection | undefined;
  private readonly first: Promise<NatsConnection>;
  private readonly stop = new AbortController();
  private attempts = 0;
  private readonly reconnectListeners = new Set<() => void>();
  private drawnFor = -1;
  private drawn = 0;

  constructor(private readonly options: NatsLinkOptions) {
    options.metrics.connected.set(0);
    // A close rejects `first` at once, also while an attempt is under way: a server that accepts the TCP
    // connection and never answers (not NATS) holds an attempt for its whole timeout, and a stop must not
    // wait for that (the attempt, if it ever succeeds, is closed by the loop).
    this.first = new Promise<NatsConnection>((resolve, reject) => {
      this.connectLoop().then(resolve, reject);
      this.stop.signal.addEventListener('abort', () => reject(new CertstreamError('NATS_ERR_UNAVAILABLE', 'closed before NATS was reached')), { once: true });
    });
    // A close before the first connection rejects `first`; callers of ready() see it, nobody else must.
    this.first.catch(() => undefined);
  }

  /** The connection once it is up (the first connection; the library keeps it reconnected afterwards). */
  ready(): Promise<NatsConnection> {
    return this.first;
  }

  /**
   * Calls `listener` after every reconnection. Requests sent before it may never be answered (the
   * server that had them restarted), and pull subscriptions wait out their expiry: listeners resend
   * and resubscribe at once instead. Returns the unsubscribe function.
   */
  onReconnect(listener: () => void): () => void {
    this.reconnectListeners.add(listener);
    return () => this.reconnectListeners.delete(listener);
  }

  /** Closes the connection (or stops trying). */
  async close(): Promise<void> {
    this.stop.abort();
    const nc = this.nc;
    this.nc = undefined;
    if (nc && !nc.isClosed()) await nc.close().catch(() => undefined);
    this.setConnected(false, 'closed');
  }

  private delay(): number {
    return backoffDelay(++this.attempts, { baseMs: this.options.backoff?.baseMs ?? 250, maxMs: this.options.backoff?.maxMs ?? 10_000 });
  }

  /**
   * The wait before the next reconnect attempt. The client library asks for it on every turn of its dial
   * loop, also while it only waits, so asking must not count as an attempt (that reached the cap within
   * a second of any outage): attempts are counted on its `reconnecting` status, and each attempt's delay
   * is drawn once.
   */
  private reconnectDelay(): number {
    if (this.drawnFor !== this.attempts) {
      this.drawnFor = this.attempts;
      this.drawn = backoffDelay(Math.max(1, this.attempts), { baseMs: this.options.backoff?.baseMs ?? 250, maxMs: this.options.backoff?.maxMs ?? 10_000 });
    }
    return this.drawn;
  }

  private async connectLoop(): Promise<NatsConnection> {
    const { logger, servers } = this.options;
    for (;;) {
      if (this.stop.signal.aborted) throw new CertstreamError('NATS_ERR_UNAVAILABLE', 'closed before NATS was reached');
      try {
        const nc = await connect({
          servers,
          name: this.options.name,
          timeout: 5000,
          maxReconnectAttempts: -1,
          reconnectDelayHandler: () => this.reconnectDelay(),
          pingInterval: 10_000,
          maxPingOut: 3,
          // The client otherwise builds two errors with stack traces for every request, in case it fails:
          // 30 % of what a JetStream publish costs the ingest (bench:scaleout profile, 206 → 142 µs an entry).
          noAsyncTraces: true,
        });
        if (this.stop.signal.aborted) {
          await nc.close();
          throw new CertstreamError('NATS_ERR_UNAVAILABLE', 'closed before NATS was reached');
        }
        this.nc = nc;
        this.attempts = 0;
        this.setConnected(true, null);
        logger.info('nats connected', { server: nc.getServer() });
        void this.watch(nc);
        return nc;
      } catch (err) {
        if (isCloseError(err)) throw err;
        const wait = this.delay();
        this.lastError = `cannot reach NATS at ${servers.join(',')}: ${describeError(err)}`;
        // The first failure and then every tenth: a NATS that stays away must not flood the journal.
        if (this.attempts === 1 || this.attempts % 10 === 0) logger.warn('nats unavailable, retrying', { servers, error: describeError(err), retry_in_ms: wait, attempt: this.attempts });
        await sleep(wait, this.stop.signal);
      }
    }
  }

  private async watch(nc: NatsConnection): Promise<void> {
    const { logger, metrics } = this.options;
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') {
        this.setConnected(false, `lost the connection to NATS (${s.server})`);
        logger.warn('nats disconnected', { server: s.server });
      } else if (s.type === 'reconnecting') {
        this.attempts++;
      } else if (s.type === 'reconnect') {
        this.attempts = 0;
        metrics.reconnects.inc();
        this.setConnected(true, null);
        logger.info('nats connected', { server: s.server, reconnected: true });
        for (const listener of this.reconnectListeners) listener();
      } else if (s.type === 'error') {
        this.lastError = describeError(s.error);
      }
    }
  }

  private setConnected(up: boolean, error: string | null): void {
    this.connected = up;
    this.lastError = error;
    this.options.metrics.connected.set(up ? 1 : 0);
  }
}

function isCloseError(err: unknown): boolean {
  return err instanceof CertstreamError && err.code === 'NATS_ERR_UNAVAILABLE';
}
