/**
 * Durable client positions in a JetStream key-value bucket (`<stream>_positions`) that every edge shares:
 * a client that reconnects with the same `?id=` to any edge resumes from the position its last
 * confirmed ping saved. Each edge keeps the bucket's values in memory through a watch (the hub reads
 * positions synchronously at connect time) and saves its own clients' confirmations at most once per
 * `flushMs`. A position is a stream sequence number, the same on every edge.
 *
 * An edge that is killed loses at most its last unsaved confirmations: the client resumes earlier and
 * receives those frames again, never misses any.
 *
 * Lifetime: a key's last save is its last use (a client that connects has its position saved again), so
 * its revision's time tells its age on every edge alike, across restarts. Each edge sweeps the keys
 * older than the expiry time and deletes them only if they are still at the revision it judged (a
 * compare-and-delete): a NAME used meanwhile on another edge keeps its newer save, which reaches this
 * edge through the watch. Only changed and deleted keys are written, one key-value operation each.
 *
 * Cap: the keys this edge knows (the watch's view of every edge's saves). Edges admit new NAMEs on
 * their own view, so N edges that admit new NAMEs within the same second can together exceed the cap
 * by what they admitted before seeing each other's saves (about one flush period's worth each).
 */
import type { KV } from '@nats-io/kv';
import { CertstreamError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { FlushFailures } from '../state/flush-failures.js';
import { SavedMap } from '../state/saved-map.js';
import { SavedPositions, type Position, type PositionLimits } from '../stream/durable-positions.js';
import type { StreamName } from '../stream/stream-paths.js';
import { kvValue, mirrorBucket, type KvValue } from './kv-mirror.js';
import { bucketKey, fromBucketKey } from './stream-setup.js';

export interface KvPositionsOptions extends PositionLimits {
  kv: KV;
  bucketName: string;
  /** Save period while something changed, ms (default 1000). */
  flushMs?: number;
  logger: Logger;
  /** Counts the bucket watch's restarts (certstream_nats_kv_watch_restarts_total). */
  watchRestarts?: { inc(): void };
}

export class KvPositions extends SavedPositions {
  /** Every edge's positions as last seen, and our own clients' confirmations (only the changed ones are written). */
  protected readonly positions: SavedMap<Position>;
  /** The bucket revision each value came from: an older echo never overwrites a newer value. */
  private readonly revisions = new Map<string, number>();
  private watcher: { stop(): void } | undefined;

  private constructor(private readonly options: KvPositionsOptions) {
    super(options);
    this.positions = new SavedMap({
      snapshot: 'changed',
      write: (positions, deleted) => this.write(positions, deleted),
      failure: (err) => new CertstreamError('NATS_ERR_UNAVAILABLE', `cannot save durable positions to ${options.bucketName}`, { cause: err }),
      outcome: new FlushFailures({ logger: options.logger, failedMessage: 'saving durable positions to NATS failed; retrying every flush period' }),
    });
  }

  /** Reads every saved position and watches the bucket for other edges' saves. */
  static async open(options: KvPositionsOptions): Promise<KvPositions> {
    const store = new KvPositions(options);
    const { kv } = options;
    store.watcher = await mirrorBucket(kv, `durable positions from JetStream key-value bucket ${options.bucketName}`, (e) => store.seen(e), { logger: options.logger, restarts: options.watchRestarts });
    store.startExpiry();
    store.positions.start(options.flushMs ?? 1000, () => undefined);
    return store;
  }

  /** `<stream>.<base64url(name)>`: one key per NAME and stream. */
  protected key(name: string, stream: StreamName): string {
    return `${stream}.${bucketKey(name)}`;
  }

  /** Saves what changed, then stops mirroring the bucket. */
  close(): Promise<void> {
    this.stopExpiry();
    return this.positions.close().finally(() => this.watcher?.stop());
  }

  /**
   * Reads the NAME's key from the bucket itself: the watch brings other edges' saves within
   * milliseconds, but a client that moves from a killed edge reconnects as fast, and an edge under load
   * may not have taken the last save from its watch yet; resuming from the value before it would send
   * the client again frames it had confirmed. A failed read leaves the mirror's value (NATS is then
   * unreachable, and the mirror is all there is).
   */
  async refresh(name: string, stream: StreamName): Promise<void> {
    try {
      const e = await this.options.kv.get(this.key(name, stream));
      const v = e === null ? undefined : kvValue(e);
      if (v !== undefined) this.seen(v);
    } catch {
      // The mirror's value stands; the bucket's failures are reported by its watch and by the saves.
    }
  }

  /**
   * Another edge's save, or our own echoed: the newest revision wins, and a key with a confirmation not
   * yet saved keeps its local value (the echo of an earlier save must not move it back).
   */
  private seen(v: KvValue): void {
    if (this.positions.isChanged(v.key) || v.revision <= (this.revisions.get(v.key) ?? 0)) return;
    const [stream, encoded] = v.key.split('.');
    if (encoded === undefined || fromBucketKey(encoded) === '') return;
    this.revisions.set(v.key, v.revision);
    this.positions.learn(`${stream}.${encoded}`, { seq: v.value, used: v.created });
  }

  private async write(positions: ReadonlyMap<string, Position>, deleted: ReadonlySet<string>): Promise<void> {
    for (const key of deleted) await this.deleteSaved(key);
    for (const [key, p] of positions) {
      const revision = await this.options.kv.put(key, String(p.seq));
      if (revision <= (this.revisions.get(key) ?? 0)) continue; // another edge saved it after us meanwhile
      this.revisions.set(key, revision);
      // An older save by another edge may have been learnt while this one was under way.
      if (!this.positions.isChanged(key)) this.positions.learn(key, p);
    }
  }

  /**
   * Deletes an expired key if it is still at the revision this edge knows. A key saved again since (used
   * on another edge) or deleted by another edge first is left as it is: the newer save comes through the
   * watch.
   */
  private async deleteSaved(key: string): Promise<void> {
    const { kv } = this.options;
    const revision = this.revisions.get(key);
    // Never saved by this edge nor seen from another: the bucket holds nothing of ours to delete.
    if (revision === undefined) return;
    try {
      await kv.delete(key, { previousSeq: revision });
    } catch (err) {
      const now = await kv.get(key);
      if (now !== null && now.operation === 'PUT' && now.revision === revision) throw err;
    }
  }
}
