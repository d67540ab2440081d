/**
 * The ingest side of the scale-out mode: where the sink publishes (in place of the hub) when --nats is
 * set. Each entry becomes one JetStream message — the replay-window record (full frame, lite's cuts,
 * domains frame: all three streams' frames, stored once) with the message id `<log>#<index>`, so that
 * entries two ingest nodes both publish are stored once.
 *
 * The chain certificates an entry refers to (stream-message.ts) go before it, each as its own message
 * on its own subject (no message id: a copy published again must replace the older one, not be taken
 * for a duplicate of it), when this node has not published it within
 * `certRefreshMs` (so the certificates stream never forgets one an entry in the window refers to: see
 * stream-setup.ts certRefreshMs). A certificate is acknowledged before the entries after it are sent,
 * so an edge never reads an entry whose certificate is not stored yet.
 *
 * `publish` is synchronous (the follower's delivery point is); the messages queue and a sender sends
 * them in order, pipelined, and retries from the first unacknowledged one after a failure (resending
 * later ones that were stored is harmless: they come back as duplicates), so one node's entries reach
 * the stream in the order they were handed over. Nothing is dropped: while NATS is away the queue
 * grows up to `maxPending`, then `room()` holds the followers (their cursors stay), and the cursor
 * store's `beforeWrite` is `settled()` — a cursor is saved only once everything before it is stored.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, type JetStreamClient, type PubAck } from '@nats-io/jetstream';
import { backoffDelay, sleep } from '../ct/backoff.js';
import { CertstreamError, describeError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { RateLimitedLog } from '../log/rate-limited.js';
import { encodeStreamMessage, type ChainCert } from './stream-message.js';
import type { StreamFrames } from '../stream/fanout-hub.js';
import type { NatsMetrics } from './nats-metrics.js';
import { certSubject, messageId } from './stream-setup.js';

export interface JetStreamPublisherOptions {
  /** The connection (resolves once NATS is reached). */
  connection: () => Promise<NatsConnection>;
  subject: string;
  /** The subject of a chain certificate by its hash (default: `<stream>.cert.<hash>` beside `<stream>.entries`). */
  certSubject?: (hash: string) => string;
  /**
   * Publish a chain certificate again once this node's last publication of it is this old, ms (default
   * 60 s; stream-setup.ts certRefreshMs is the longest that is safe for a window).
   */
  certRefreshMs?: number;
  /** Epoch ms (tests: a certificate's refresh time). */
  now?: () => number;
  metrics: NatsMetrics;
  logger: Logger;
  /** Entries queued before `room()` holds the followers (default 8192). */
  maxPending?: number;
  /** Messages in flight at once (default 256). */
  inFlight?: number;
  /** The cluster's saved next index of a log: entries below it were stored by some ingest node already. */
  clusterCursor?: (log: string) => number | undefined;
  /**
   * Per log, the highest index the stream held when this node started (stream-tail-scan.ts): entries up
   * to it are not published again (JetStream may have forgotten their ids). Consumed as logs pass it.
   */
  storedUpTo?: Map<string, number>;
  /** Per-publish timeout, ms (default 5000). */
  timeoutMs?: number;
  /** Whether NATS is connected now: without it `settled()` fails at once instead of waiting. */
  connected?: () => boolean;
  /** Subscribes to reconnections (NatsLink.onReconnect): publishes still unanswered then are sent again. */
  onReconnect?: (listener: () => void) => () => void;
}

interface Pending {
  readonly subject: string;
  /** The JetStream message id (entries only). */
  readonly id: string | undefined;
  readonly data: Buffer;
  /** A chain certificate (acknowledged before anything after it is sent), not an entry. */
  readonly cert: boolean;
}

/** Chain certificates whose last publication this node remembers (more are published again sooner). */
const REMEMBERED_CERTS = 65_536;

export class JetStreamPublisher {
  private queue: Pending[] = [];
  private head = 0;
  /** Entries handed over / acknowledged since start (monotonic): settled() compares them. */
  private enqueued = 0;
  private acked = 0;
  private readonly ackWaiters: { upTo: number; resolve: () => void }[] = [];
  private roomWaiters: (() => void)[] = [];
  private wake: (() => void) | undefined;
  /** Cuts a retry's backoff short at close. */
  private readonly stop = new AbortController();
  private closed = false;
  private readonly maxPending: number;
  private readonly inFlight: number;
  private readonly sender: Promise<void>;
  private readonly errorLog: RateLimitedLog;
  /** When this node last queued each chain certificate (by hash), ms; oldest first. */
  private readonly certsPublished = new Map<string, number>();
  private readonly offReconnect: (() => void) | undefined;
  lastError: string | null = null;
  /** The highest stream sequence JetStream acknowledged to this publisher (0 before the first). */
  lastAckSeq = 0;

  constructor(private readonly options: JetStreamPublisherOptions) {
    this.maxPending = options.maxPending ?? 8192;
    this.inFlight = options.inFlight ?? 256;
    this.errorLog = new RateLimitedLog(options.logger);
    this.sender = this.send();
    // A reconnection may be to a server that lost its store: the certificates are published again.
    this.offReconnect = options.onReconnect?.(() => this.certsPublished.clear());
  }

  /** Messages (entries and chain certificates) handed over and not yet acknowledged. */
  get pending(): number {
    return this.enqueued - this.acked;
  }

  /** The sink's target: queues each entry (in order) for publishing. */
  publish(frames: readonly StreamFrames[]): void {
    if (this.closed) return;
    for (const f of frames) {
      if (f.log === undefined || f.index === undefined) throw new CertstreamError('NATS_ERR_STREAM', 'JetStreamPublisher: an entry without log and index cannot be published');
      const cluster = this.options.clusterCursor?.(f.log);
      if (cluster !== undefined && f.index < cluster) {
        this.options.metrics.peerSkipped.inc();
        continue;
      }
      const stored = this.options.storedUpTo?.get(f.log);
      if (stored !== undefined) {
        if (f.index <= stored) {
          this.options.metrics.alreadyStored.inc();
          continue;
        }
        // A log's entries come in index order: once past, never again.
        this.options.storedUpTo!.delete(f.log);
      }
      const message = encodeStreamMessage({ ...f, log: f.log, index: f.index, seen: f.seen ?? Date.now() / 1000 });
      for (const cert of message.certs) this.queueCert(cert);
      this.queue.push({ subject: this.options.subject, id: messageId(f.log, f.index), data: message.data, cert: false });
      this.enqueued++;
    }
    this.options.metrics.publishPending.set(this.pending);
    this.wake?.();
  }

  /** Publishes every chain certificate again on its next use (the certificates stream was lost). */
  forgetCerts(): void {
    this.certsPublished.clear();
  }

  /** Queues a chain certificate unless this node published it recently. */
  private queueCert(cert: ChainCert): void {
    const now = this.options.now?.() ?? Date.now();
    const last = this.certsPublished.get(cert.hash);
    if (last !== undefined && now - last < (this.options.certRefreshMs ?? 60_000)) return;
    this.certsPublished.delete(cert.hash);
    this.certsPublished.set(cert.hash, now);
    if (this.certsPublished.size > REMEMBERED_CERTS) this.certsPublished.delete(this.certsPublished.keys().next().value!);
    const subject = this.options.certSubject?.(cert.hash) ?? certSubject(this.options.subject.replace(/\.entries$/, ''), cert.hash);
    this.queue.push({ subject, id: undefined, data: Buffer.from(cert.text, 'utf8'), cert: true });
    this.enqueued++;
  }

  /** Consumer pacing for the followers: undefined while there is room, else a promise for when there is. */
  room(): Promise<void> | undefined {
    if (this.pending < this.maxPending || this.closed) return undefined;
    return new Promise((resolve) => this.roomWaiters.push(resolve));
  }

  /**
   * Resolves once every entry handed over so far is acknowledged (stored or de-duplicated); rejects
   * with NATS_ERR_UNAVAILABLE after `timeoutMs` (the cursor write that waits for it fails and retries).
   */
  settled(timeoutMs = 10_000): Promise<void> {
    const upTo = this.enqueued;
    if (this.acked >= upTo) return Promise.resolve();
    if (this.options.connected?.() === false) {
      // Nothing can be acknowledged while NATS is away: say so now (a stop must not wait for it).
      return Promise.reject(new CertstreamError('NATS_ERR_UNAVAILABLE', `${upTo - this.acked} entries not acknowledged: NATS is not connected`));
    }
    return new Promise((resolve, reject) => {
      const waiter = { upTo, resolve: () => (clearTimeout(t), resolve()) };
      const t = setTimeout(() => {
        const i = this.ackWaiters.indexOf(waiter);
        if (i >= 0) this.ackWaiters.splice(i, 1);
        reject(new CertstreamError('NATS_ERR_UNAVAILABLE', `${upTo - this.acked} entries not acknowledged by JetStream within ${timeoutMs} ms${this.lastError ? ` (${this.lastError})` : ''}`));
      }, timeoutMs);
      this.ackWaiters.push(waiter);
    });
  }

  /** Tries to publish what is queued for up to `graceMs`, then stops (what is left was never acknowledged, so no cursor covers it). */
  async close(graceMs = 2000): Promise<void> {
    if (!this.closed) await this.settled(graceMs).catch(() => undefined);
    this.closed = true;
    this.wake?.();
    this.stop.abort();
    this.offReconnect?.();
    for (const w of this.roomWaiters.splice(0)) w();
    await this.sender;
    const left = this.pending;
    if (left > 0) this.options.logger.warn('jetstream publisher closed with entries unacknowledged; their cursors were not saved, the next start fetches them again', { entries: left });
  }

  private async send(): Promise<void> {
    const { metrics, logger } = this.options;
    let js: JetStreamClient | undefined;
    let failures = 0;
    while (!this.closed) {
      if (this.head === this.queue.length) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      try {
        js ??= jetstream(await this.options.connection(), { timeout: this.options.timeoutMs ?? 5000 });
      } catch {
        return; // closed before NATS was reached
      }
      const chunk = this.nextChunk();
      const results = await this.publishChunk(js, chunk);
      let ok = 0;
      for (const r of results) {
        if (r === undefined || r.status === 'rejected') break;
        if (chunk[ok].cert) metrics.certsPublished.inc();
        else metrics.published.inc({ result: r.value.duplicate ? 'duplicate' : 'stored' });
        if (!chunk[ok].cert && r.value.seq > this.lastAckSeq) this.lastAckSeq = r.value.seq;
        ok++;
      }
      this.head += ok;
      this.acked += ok;
      if (this.head > 4096 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      this.settle();
      if (ok < chunk.length) {
        const failed = results[ok];
        const err = failed === undefined ? new CertstreamError('NATS_ERR_UNAVAILABLE', 'unanswered when NATS reconnected; sent again') : (failed as PromiseRejectedResult).reason as unknown;
        metrics.publishErrors.inc();
        this.lastError = describeError(err);
        // What the client says when no stream takes the subject (deleted, lost with the NATS store) misleads.
        if (/jetstream is not enabled|no responders/i.test(this.lastError)) this.lastError = `no JetStream stream takes ${this.options.subject} (missing?): ${this.lastError}`;
        const wait = backoffDelay(++failures, { baseMs: 100, maxMs: 5000 });
        this.errorLog.log('warn', 'publish', 'jetstream publish failed; retrying in order from the first unacknowledged entry', { error: this.lastError, pending: this.pending, retry_in_ms: wait });
        await sleep(wait, this.stop.signal);
      } else if (failures > 0) {
        failures = 0;
        this.lastError = null;
        this.errorLog.reset('publish');
        logger.info('jetstream publish recovered', { pending: this.pending });
      }
    }
  }

  /**
   * The next messages to send at once: up to `inFlight` entries, or the chain certificates before the
   * next entry (sent alone, so they are stored before any entry that refers to them).
   */
  private nextChunk(): Pending[] {
    const end = Math.min(this.queue.length, this.head + this.inFlight);
    const certs = this.queue[this.head].cert;
    let n = this.head + 1;
    while (n < end && this.queue[n].cert === certs) n++;
    return this.queue.slice(this.head, n);
  }

  /**
   * Sends a chunk, pipelined; resolves when every publish is answered — or at a reconnection, with the
   * unanswered ones left undefined (their requests went to a connection that is gone and would only
   * time out; sent again, JetStream de-duplicates whatever was stored).
   */
  private publishChunk(js: JetStreamClient, chunk: readonly Pending[]): Promise<(PromiseSettledResult<PubAck> | undefined)[]> {
    const results: (PromiseSettledResult<PubAck> | undefined)[] = new Array(chunk.length).fill(undefined);
    const all = Promise.all(
      chunk.map((m, i) =>
        js.publish(m.subject, m.data, m.id === undefined ? undefined : { msgID: m.id }).then(
          (value) => void (results[i] = { status: 'fulfilled', value }),
          (reason: unknown) => void (results[i] = { status: 'rejected', reason }),
        ),
      ),
    );
    let off: (() => void) | undefined;
    const reconnected = new Promise<void>((resolve) => (off = this.options.onReconnect?.(resolve)));
    return Promise.race([all, reconnected]).then(() => {
      off?.();
      return [...results];
    });
  }

  private settle(): void {
    this.options.metrics.publishPending.set(this.pending);
    for (let i = this.ackWaiters.length - 1; i >= 0; i--) {
      if (this.ackWaiters[i].upTo <= this.acked) this.ackWaiters.splice(i, 1)[0].resolve();
    }
    if (this.pending < this.maxPending / 2 || this.pending === 0) for (const w of this.roomWaiters.splice(0)) w();
  }
}
