/**
 * The scale-out mode, composed: what server.ts uses in place of the local replay window, cursor file
 * and positions file when --nats is set. Everything here waits for NATS patiently (the listener is
 * already bound; /healthz says what it waits for) and retries setup failures with backoff.
 *
 * - ingest side (roles ingest, all): the stream and the cursor bucket, then a JetStream publisher as
 *   the sink's target, the key-value cursors as the ingest's cursor store (saved only once what they
 *   cover is acknowledged), and the publisher's room as the ingest's consumer pacing.
 * - edge side (roles edge, all): the stream as the hub's replay window (its tail feeds the hub) and the
 *   positions bucket as the durable positions, attached to the hub once NATS is reached; the cursor
 *   bucket mirrored into the hub's verified=1 coverage (the ingest nodes' verified sizes).
 * - both: a guard (stream-guard.ts) that notices the stream or a bucket lost with a wiped NATS store,
 *   re-creates what this node owns, and tells /healthz (`problems()`) meanwhile.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { KV } from '@nats-io/kv';
import { backoffDelay, sleep } from '../ct/backoff.js';
import { CertstreamError, describeError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { ServerMetrics } from '../metrics/server-metrics.js';
import type { ReplayWindow } from '../replay/replay-window.js';
import type { PositionLimits } from '../stream/durable-positions.js';
import type { FanoutHub, StreamFrames } from '../stream/fanout-hub.js';
import { JetStreamPublisher } from './jetstream-publisher.js';
import { JetStreamWindow } from './jetstream-window.js';
import type { VerifiedCoverage } from '../stream/verified-coverage.js';
import { mirrorCoverage } from './kv-coverage.js';
import { KvCursorStore } from './kv-cursor-store.js';
import { KvPositions } from './kv-positions.js';
import { NatsLink } from './nats-link.js';
import { kvText, mirrorBucketWith } from './kv-mirror.js';
import { createNatsMetrics } from './nats-metrics.js';
import { StreamGuard, type GuardedStream } from './stream-guard.js';
import { lastIndexes } from './stream-tail-scan.js';
import { certRefreshMs, certsStreamName, certSubject, ensureStream, entriesSubject, openBucket, recreateBucket, recreateStream, type StreamLimits } from './stream-setup.js';

export type Role = 'all' | 'ingest' | 'edge';

/** How far past the last revision it saw a lost bucket's revisions continue once re-created. */
const REVISION_MARGIN = 1000;

export interface NatsModeOptions {
  servers: string;
  role: Role;
  stream: string;
  /** --replay-window and --replay-window-bytes: the stream's limits. */
  maxAgeMs: number;
  maxBytes: number;
  /** --nats-replicas: of the stream and buckets this node creates. */
  replicas?: number;
  /** Cursor and position save period, ms. */
  flushMs?: number;
  /** Lifetime and cap of the durable positions (--durable-expire, --max-durable-subscriptions). */
  positionLimits?: PositionLimits;
  metrics: ServerMetrics;
  logger: Logger;
}

/** The `nats` object of `/healthz`. */
export interface NatsHealth {
  role: Role;
  connected: boolean;
  stream: string;
  first_seq: number | null;
  last_seq: number | null;
  delivered_seq: number | null;
  consumer_lag: number | null;
  publish_pending: number | null;
  last_error: string | null;
}

export class NatsMode {
  readonly link: NatsLink;
  private readonly natsMetrics;
  private readonly stop = new AbortController();
  /** Rejects once close() began (raced against waits for NATS). */
  private readonly stopped = new Promise<never>((_, reject) => {
    this.stop.signal.addEventListener('abort', () => reject(new CertstreamError('NATS_ERR_UNAVAILABLE', 'closed')), { once: true });
  });
  private streamReady: Promise<void> | undefined;
  private publisher: JetStreamPublisher | undefined;
  private window: JetStreamWindow | undefined;
  private positions: KvPositions | undefined;
  private edgeOpening: Promise<void> | undefined;
  private setupError: string | null = null;
  /** Notices a stream or bucket that was lost (store wiped, deleted) and re-creates what this node owns. */
  private readonly guard: StreamGuard;
  private readonly entriesGuard: GuardedStream;
  private readonly certsGuard: GuardedStream;
  /** Bucket mirrors kept to give a re-created bucket its values back (key → value), by bucket. */
  private readonly mirrors: { stop(): void }[] = [];
  /** The cursor bucket mirrored into the edge's verified=1 coverage. */
  private coverageMirror: { stop(): void } | undefined;

  constructor(private readonly options: NatsModeOptions) {
    this.stopped.catch(() => undefined);
    this.natsMetrics = createNatsMetrics(options.metrics.registry);
    this.link = new NatsLink({
      servers: options.servers.split(',').map((s) => s.trim()),
      name: `certstream-server ${options.role}`,
      logger: options.logger,
      metrics: this.natsMetrics,
    });
    this.guard = new StreamGuard({ metrics: this.natsMetrics, logger: options.logger.child({ component: 'nats-guard' }) });
    // The ingest re-creates the entries stream (it is what publishes into it); an edge reports it missing.
    this.entriesGuard = {
      name: options.stream,
      label: `stream ${options.stream}`,
      recreate: options.role === 'edge' ? undefined : (nc, firstSeq) => recreateStream(nc, this.limits(), firstSeq),
      knownLastSeq: () => this.publisher?.lastAckSeq ?? 0,
    };
    // The chain certificates: re-created by the ingest, which then publishes every certificate again.
    this.certsGuard = {
      name: certsStreamName(options.stream),
      label: `stream ${certsStreamName(options.stream)}`,
      recreate: options.role === 'edge' ? undefined : async (nc) => {
        await ensureStream(nc, this.limits());
        this.publisher?.forgetCerts();
      },
    };
    const off = this.link.onReconnect(() => void this.link.ready().then((nc) => this.guard.reconnected(nc), () => undefined));
    this.stop.signal.addEventListener('abort', off, { once: true });
  }

  /**
   * What keeps this node from `ok` besides its logs (for /healthz's `problems`): a stream or bucket that
   * is missing, or was lost and re-created lately.
   */
  problems(): string[] {
    return this.guard.problems();
  }

  /**
   * verified=1 on this edge: the ingest nodes' verified sizes, saved with their cursors, mirrored into
   * `coverage` (kv-coverage.ts).
   */
  private async mirrorCoverage(nc: NatsConnection, coverage: VerifiedCoverage): Promise<{ stop(): void }> {
    const kv = await openBucket(nc, this.options.stream, 'cursors', this.options.replicas);
    const bucket = `${this.options.stream}_cursors`;
    return mirrorCoverage(kv, bucket, coverage, {
      logger: this.options.logger.child({ component: 'nats-coverage' }),
      restarts: { inc: () => this.natsMetrics.kvWatchRestarts.inc({ bucket }) },
    });
  }

  /** The edge's window (the stream) and positions (the bucket), once attached. */
  durable(): { window: ReplayWindow; positions: number } | undefined {
    return this.window && this.positions ? { window: this.window, positions: this.positions.size } : undefined;
  }

  get role(): Role {
    return this.options.role;
  }

  /**
   * The ingest side, once NATS is reached: the publisher (the sink's target) and the cursor store (not
   * loaded yet: Ingest.open loads it). Resolves undefined when closed first.
   */
  async openIngest(): Promise<{ publisher: JetStreamPublisher; cursors: KvCursorStore } | undefined> {
    const kv = await this.retry('cursor bucket', async (nc) => {
      await this.ensureStreamOnce(nc);
      return openBucket(nc, this.options.stream, 'cursors', this.options.replicas);
    });
    if (kv === undefined) return undefined;
    const { logger } = this.options;
    const storedUpTo = await this.retry('reading the end of the stream', (nc) => lastIndexes(nc, this.options.stream));
    if (storedUpTo === undefined) return undefined;
    logger.info('read the end of the stream: entries it holds are not published again', { logs: storedUpTo.size });
    await this.guardBucket(kv, 'cursors').catch((err: unknown) => logger.warn('cannot watch the cursor bucket for loss', { error: describeError(err) }));
    let cursors: KvCursorStore | undefined = undefined;
    const publisher = new JetStreamPublisher({
      connection: () => this.link.ready(),
      subject: entriesSubject(this.options.stream),
      certSubject: (hash) => certSubject(this.options.stream, hash),
      certRefreshMs: certRefreshMs(this.options.maxAgeMs),
      metrics: this.natsMetrics,
      logger: logger.child({ component: 'nats-publisher' }),
      clusterCursor: (log) => cursors?.clusterCursor(log),
      storedUpTo,
      connected: () => this.link.connected,
      onReconnect: (listener) => this.link.onReconnect(listener),
    });
    const cursorBucket = `${this.options.stream}_cursors`;
    cursors = new KvCursorStore({
      bucket: async () => kv,
      bucketName: cursorBucket,
      watchRestarts: { inc: () => this.natsMetrics.kvWatchRestarts.inc({ bucket: cursorBucket }) },
      flushMs: this.options.flushMs,
      beforeWrite: () => publisher.settled(),
      flushErrors: this.options.metrics.cursorFlushErrors,
      logger: logger.child({ component: 'nats-cursors' }),
    });
    this.publisher = publisher;
    return { publisher, cursors };
  }

  /**
   * The edge side, in the background: once NATS is reached, the stream becomes the hub's replay window
   * (its tail publishing into `publish`) and the positions bucket its durable positions.
   */
  openEdge(hub: FanoutHub, publish: (frames: StreamFrames[]) => void, pingIntervalMs: number, coverage?: VerifiedCoverage): void {
    this.edgeOpening = (async () => {
      const opened = await this.retry('stream tail', async (nc) => {
        await this.ensureStreamOnce(nc);
        if (coverage !== undefined && this.coverageMirror === undefined) this.coverageMirror = await this.mirrorCoverage(nc, coverage);
        const kv: KV = await openBucket(nc, this.options.stream, 'positions', this.options.replicas);
        const bucket = `${this.options.stream}_positions`;
        const positions = await KvPositions.open({
          ...this.options.positionLimits, kv, bucketName: bucket, flushMs: this.options.flushMs, logger: this.options.logger.child({ component: 'nats-positions' }),
          watchRestarts: { inc: () => this.natsMetrics.kvWatchRestarts.inc({ bucket }) },
        });
        try {
          const window = await JetStreamWindow.open({ nc, stream: this.options.stream, metrics: this.natsMetrics, logger: this.options.logger.child({ component: 'nats-window' }), onEntries: publish, room: () => hub.roomForIngest(), onReconnect: (listener) => this.link.onReconnect(listener) });
          return { window, positions, kv };
        } catch (err) {
          await positions.close();
          throw err;
        }
      });
      if (opened === undefined) return;
      if (this.stop.signal.aborted) {
        await opened.window.close();
        await opened.positions.close();
        return;
      }
      this.window = opened.window;
      this.positions = opened.positions;
      hub.attachDurable({ window: opened.window, positions: opened.positions, pingIntervalMs });
      this.options.logger.info('serving from the JetStream stream', { stream: this.options.stream, ...opened.window.health() });
      await this.guardBucket(opened.kv, 'positions').catch((err: unknown) => this.options.logger.warn('cannot watch the positions bucket for loss', { error: describeError(err) }));
    })();
  }

  health(): NatsHealth {
    const w = this.window?.health();
    const edge = this.options.role !== 'ingest';
    return {
      role: this.options.role,
      connected: this.link.connected,
      stream: this.options.stream,
      first_seq: w?.first_seq ?? null,
      last_seq: w?.last_seq ?? null,
      delivered_seq: edge ? (w?.delivered_seq ?? null) : null,
      consumer_lag: edge ? (w?.consumer_lag ?? null) : null,
      publish_pending: this.publisher?.pending ?? null,
      last_error: this.link.lastError ?? this.guard.problems()[0] ?? this.setupError ?? this.publisher?.lastError ?? null,
    };
  }

  /** Publishes what is queued (bounded), closes the window, positions and connection. Call after the ingest stopped. */
  async close(): Promise<void> {
    this.stop.abort();
    // Not waited for: a check under way may wait for a request to a NATS that is gone.
    void this.guard.close();
    for (const m of this.mirrors.splice(0)) m.stop();
    this.coverageMirror?.stop();
    await this.publisher?.close();
    await this.edgeOpening;
    await this.window?.close();
    await this.positions?.close().catch((err: unknown) => this.options.logger.warn('durable positions not saved at close', { error: describeError(err) }));
    await this.link.close();
  }

  private limits(): StreamLimits {
    return { name: this.options.stream, maxAgeMs: this.options.maxAgeMs, maxBytes: this.options.maxBytes, replicas: this.options.replicas };
  }

  /**
   * Guards the entries stream and one bucket (which this node re-creates when lost, with the values it
   * last saw in it: a mirror of the bucket kept for that), once both exist.
   */
  private async guardBucket(kv: KV, what: 'cursors' | 'positions'): Promise<void> {
    const nc = await this.link.ready();
    const values = new Map<string, string>();
    let revision = 0;
    const mirror = async (bucket: KV) => {
      // The text as saved: a cursor's value carries its verification state, not only a number.
      const watch = await mirrorBucketWith(bucket, `${what} (kept to restore the bucket if it is lost)`, kvText, (v) => {
        values.set(v.key, v.value);
        revision = Math.max(revision, v.revision);
      });
      this.mirrors.push(watch);
      return watch;
    };
    let watch = await mirror(kv);
    const name = `${this.options.stream}_${what}`;
    this.guard.add(this.entriesGuard);
    this.guard.add(this.certsGuard);
    this.guard.add({
      name: `KV_${name}`,
      label: `key-value bucket ${name}`,
      knownLastSeq: () => revision,
      recreate: async (conn, firstSeq) => {
        // Revisions go on past any a store holds, also one saved a moment before the loss that the
        // mirror had not seen yet (a gap in revisions costs nothing).
        await recreateBucket(conn, this.options.stream, what, this.options.replicas, firstSeq + REVISION_MARGIN, values);
        // The old watch followed a stream that is gone: mirror the new one.
        watch.stop();
        watch = await mirror(kv);
      },
    });
    this.guard.start(nc);
  }

  private ensureStreamOnce(nc: NatsConnection): Promise<void> {
    this.streamReady ??= ensureStream(nc, this.limits()).then(
      (info) => this.options.logger.info('jetstream stream ready', { stream: info.config.name, messages: info.state.messages, last_seq: info.state.last_seq }),
      (err: unknown) => {
        this.streamReady = undefined;
        throw err;
      },
    );
    return this.streamReady;
  }

  /** Runs `step` once NATS is reached, again with backoff while it fails; undefined when closed first. */
  private async retry<T>(what: string, step: (nc: NatsConnection) => Promise<T>): Promise<T | undefined> {
    let attempt = 0;
    for (;;) {
      let nc: NatsConnection;
      try {
        // A close does not wait for a NATS that was never reached (the link may be mid-way in an attempt).
        nc = await Promise.race([this.link.ready(), this.stopped]);
      } catch {
        return undefined;
      }
      if (this.stop.signal.aborted) return undefined;
      try {
        const value = await step(nc);
        this.setupError = null;
        return value;
      } catch (err) {
        const wait = backoffDelay(++attempt, { baseMs: 250, maxMs: 10_000 });
        this.setupError = `${what}: ${describeError(err)}`;
        this.options.logger.warn(`nats setup failed (${what}), retrying`, { error: describeError(err), retry_in_ms: wait, attempt });
        await sleep(wait, this.stop.signal);
        if (this.stop.signal.aborted) return undefined;
      }
    }
  }
}
