/**
 * Ingest cursors in a JetStream key-value bucket (`<stream>_cursors`) shared by every ingest node: a
 * restarted or replacement node continues where the cluster stopped, and a node running behind another
 * learns (through a watch) how far the cluster got, so that its publisher leaves out what was stored.
 *
 * A cursor only moves forward: writes are compare-and-set on the key's revision and keep the larger
 * index, so two nodes saving the same log cannot move it back. Like the file, a cursor is written only
 * after `beforeWrite` — the publisher's `settled()` — and as it was when that wait began (the followers
 * move it meanwhile, past entries not yet acknowledged): every entry below a saved cursor is in the stream.
 */
import type { KV } from '@nats-io/kv';
import type { CursorFlushHealth, Cursors } from '../ct/cursor-store.js';
import { CertstreamError, describeError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { FlushFailures } from '../state/flush-failures.js';
import { SavedMap } from '../state/saved-map.js';
import { kvValue, mirrorBucket, type KvValue } from './kv-mirror.js';
import { bucketKey, fromBucketKey } from './stream-setup.js';

export interface KvCursorStoreOptions {
  /** The bucket, once NATS is reached. */
  bucket: () => Promise<KV>;
  bucketName: string;
  /** Flush period while dirty, ms (default 1000). */
  flushMs?: number;
  beforeWrite?: () => Promise<void>;
  flushErrors?: { inc(): void };
  logger: Logger;
  /** Counts the bucket watch's restarts (certstream_nats_kv_watch_restarts_total). */
  watchRestarts?: { inc(): void };
}

export class KvCursorStore implements Cursors {
  readonly path: string;
  /** This node's cursors (what `get` answers and what it saves; only the changed ones are written). */
  private readonly mine: SavedMap<number>;
  /** The bucket's values as last seen (load, watch and our own writes). */
  private readonly cluster = new Map<string, { index: number; revision: number }>();
  private readonly failures: FlushFailures;
  private kv: KV | undefined;
  private watcher: { stop(): void } | undefined;

  constructor(private readonly options: KvCursorStoreOptions) {
    const path = (this.path = `JetStream key-value bucket ${options.bucketName}`);
    this.failures = new FlushFailures({
      logger: options.logger,
      failedMessage: 'cursor flush to NATS failed; retrying every flush period',
      recoveredMessage: 'cursors saved to NATS again after failures',
      counter: options.flushErrors,
    });
    this.mine = new SavedMap({
      snapshot: 'changed',
      dependency: options.beforeWrite,
      write: (cursors) => this.write(cursors),
      failure: (err) => new CertstreamError('STATE_ERR_IO', `cannot save cursors to ${path}: ${describeError(err)}`, { cause: err }),
      outcome: this.failures,
    });
  }

  /** Reads every saved cursor and starts watching the bucket for other nodes' progress. */
  async load(options: { ignoreSaved?: boolean } = {}): Promise<void> {
    const kv = (this.kv = await this.options.bucket());
    this.watcher = await mirrorBucket(kv, `cursors from ${this.path}`, (e) => this.seen(e), { logger: this.options.logger, restarts: this.options.watchRestarts });
    if (!options.ignoreSaved) for (const [url, v] of this.cluster) this.mine.learn(url, v.index);
    this.mine.start(this.options.flushMs ?? 1000, () => undefined);
  }

  /** The cluster's saved next index of a log (any node's), as last seen. */
  clusterCursor(url: string): number | undefined {
    return this.cluster.get(url)?.index;
  }

  get(url: string): number | undefined {
    return this.mine.get(url);
  }

  set(url: string, nextIndex: number): void {
    this.mine.set(url, nextIndex);
  }

  flushHealth(): CursorFlushHealth {
    return this.failures.health();
  }

  flush(): Promise<void> {
    return this.mine.flush();
  }

  /** Saves what changed, then stops mirroring the bucket. */
  close(): Promise<void> {
    return this.mine.close().finally(() => this.watcher?.stop());
  }

  private seen(v: KvValue): void {
    const url = fromBucketKey(v.key);
    const known = this.cluster.get(url);
    if (known === undefined || v.revision > known.revision) this.cluster.set(url, { index: v.value, revision: v.revision });
  }

  /** Saves the cursors as they were when the wait for the acknowledgements began. */
  private async write(cursors: ReadonlyMap<string, number>): Promise<void> {
    const kv = this.kv;
    if (kv === undefined) throw new CertstreamError('NATS_ERR_UNAVAILABLE', 'the bucket is not open yet');
    for (const [url, index] of cursors) await this.save(kv, url, index);
  }

  /** Compare-and-set to max(saved, index): a conflict re-reads the key and tries again. */
  private async save(kv: KV, url: string, index: number): Promise<void> {
    const key = bucketKey(url);
    for (let attempt = 0; attempt < 5; attempt++) {
      const known = this.cluster.get(url);
      if (known !== undefined && known.index >= index) return;
      try {
        const revision = known === undefined ? await kv.create(key, String(index)) : await kv.update(key, String(index), known.revision);
        this.cluster.set(url, { index, revision });
        return;
      } catch (err) {
        // Someone else wrote it first: learn their value and decide again.
        const current = await kv.get(key);
        const v = current === null ? undefined : kvValue(current);
        if (v === undefined) throw err;
        this.seen(v);
      }
    }
    throw new CertstreamError('NATS_ERR_UNAVAILABLE', `cursor of ${url}: other nodes updated it 5 times in a row`);
  }
}
