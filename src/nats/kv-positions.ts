/**
 * Durable client positions in a JetStream key-value bucket (`<stream>_positions`) that every edge shares:
 * a client that reconnects with the same `?id=` to any edge resumes from the position its last
 * confirmed ping saved. Each edge keeps the bucket's values in memory through a watch (the hub reads
 * positions synchronously at connect time) and saves its own clients' confirmations at most once per
 * `flushMs`. A position is a stream sequence number, the same on every edge.
 *
 * An edge that is killed loses at most its last unsaved confirmations: the client resumes earlier and
 * receives those frames again, never misses any.
 */
import type { KV } from '@nats-io/kv';
import { CertstreamError, describeError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { RateLimitedLog } from '../log/rate-limited.js';
import { DirtyFlusher } from '../state/dirty-flusher.js';
import { mirrorBucket, type KvValue } from './kv-mirror.js';
import type { DurablePositions } from '../stream/durable-positions.js';
import type { StreamName } from '../stream/stream-paths.js';
import { bucketKey, fromBucketKey } from './stream-setup.js';

export interface KvPositionsOptions {
  kv: KV;
  bucketName: string;
  /** Save period while something changed, ms (default 1000). */
  flushMs?: number;
  logger: Logger;
}

/** `<stream>.<base64url(name)>`: one key per NAME and stream. */
function positionKey(name: string, stream: StreamName): string {
  return `${stream}.${bucketKey(name)}`;
}

export class KvPositions implements DurablePositions {
  private readonly positions = new Map<string, number>();
  /** The bucket revision each value came from: an older echo never overwrites a newer value. */
  private readonly revisions = new Map<string, number>();
  private readonly dirty = new Set<string>();
  private readonly flusher = new DirtyFlusher(() => this.write());
  private readonly failureLog: RateLimitedLog;
  private watcher: { stop(): void } | undefined;

  private constructor(private readonly options: KvPositionsOptions) {
    this.failureLog = new RateLimitedLog(options.logger);
  }

  /** Reads every saved position and watches the bucket for other edges' saves. */
  static async open(options: KvPositionsOptions): Promise<KvPositions> {
    const store = new KvPositions(options);
    const { kv } = options;
    store.watcher = await mirrorBucket(kv, `durable positions from JetStream key-value bucket ${options.bucketName}`, (e) => store.seen(e));
    store.flusher.start(options.flushMs ?? 1000, () => undefined);
    return store;
  }

  get size(): number {
    return this.positions.size;
  }

  get(name: string, stream: StreamName): number | undefined {
    return this.positions.get(positionKey(name, stream));
  }

  set(name: string, stream: StreamName, seq: number): void {
    const key = positionKey(name, stream);
    if (this.positions.get(key) === seq) return;
    this.positions.set(key, seq);
    this.dirty.add(key);
    this.flusher.markDirty();
  }

  /** Saves what changed, then stops mirroring the bucket. */
  close(): Promise<void> {
    return this.flusher.close().finally(() => this.watcher?.stop());
  }

  /**
   * Another edge's save, or our own echoed: the newest revision wins, and a key with a confirmation not
   * yet saved keeps its local value (the echo of an earlier save must not move it back).
   */
  private seen(v: KvValue): void {
    if (this.dirty.has(v.key) || v.revision <= (this.revisions.get(v.key) ?? 0)) return;
    const [stream, encoded] = v.key.split('.');
    if (encoded === undefined || fromBucketKey(encoded) === '') return;
    this.revisions.set(v.key, v.revision);
    this.positions.set(`${stream}.${encoded}`, v.value);
  }

  private async write(): Promise<void> {
    try {
      for (const key of [...this.dirty]) {
        const seq = this.positions.get(key);
        this.dirty.delete(key);
        if (seq === undefined) continue;
        try {
          const revision = await this.options.kv.put(key, String(seq));
          if (revision > (this.revisions.get(key) ?? 0)) this.revisions.set(key, revision);
        } catch (err) {
          this.dirty.add(key);
          throw err;
        }
      }
    } catch (err) {
      this.failureLog.log('error', 'flush', 'saving durable positions to NATS failed; retrying every flush period', { error: describeError(err) });
      throw new CertstreamError('NATS_ERR_UNAVAILABLE', `cannot save durable positions to ${this.options.bucketName}`, { cause: err });
    }
    this.failureLog.reset('flush');
  }
}
