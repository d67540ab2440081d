/**
 * Ingest cursors in a JetStream key-value bucket (`<stream>_cursors`) shared by every ingest node: a
 * restarted or replacement node continues where the cluster stopped, and a node running behind another
 * learns (through a watch) how far the cluster got, so that its publisher leaves out what was stored.
 *
 * A cursor only moves forward: writes are compare-and-set on the key's revision and keep the larger
 * index, so two nodes saving the same log cannot move it back. Like the file, a cursor is written only
 * after `beforeWrite` — the publisher's `settled()`: every entry below it is in the stream.
 */
import type { KV } from '@nats-io/kv';
import type { CursorFlushHealth, Cursors } from '../ct/cursor-store.js';
import { CertstreamError, describeError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { RateLimitedLog } from '../log/rate-limited.js';
import { DirtyFlusher } from '../state/dirty-flusher.js';
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
}

export class KvCursorStore implements Cursors {
  readonly path: string;
  /** This node's cursors (what `get` answers and what it saves). */
  private readonly mine = new Map<string, number>();
  /** The bucket's values as last seen (load, watch and our own writes). */
  private readonly cluster = new Map<string, { index: number; revision: number }>();
  private readonly dirty = new Set<string>();
  private readonly flusher = new DirtyFlusher(() => this.write());
  private lastError: string | null = null;
  private errors = 0;
  private kv: KV | undefined;
  private watcher: { stop(): void } | undefined;
  private readonly failureLog: RateLimitedLog;

  constructor(private readonly options: KvCursorStoreOptions) {
    this.path = `JetStream key-value bucket ${options.bucketName}`;
    this.failureLog = new RateLimitedLog(options.logger);
  }

  /** Reads every saved cursor and starts watching the bucket for other nodes' progress. */
  async load(options: { ignoreSaved?: boolean } = {}): Promise<void> {
    const kv = (this.kv = await this.options.bucket());
    this.watcher = await mirrorBucket(kv, `cursors from ${this.path}`, (e) => this.seen(e));
    if (!options.ignoreSaved) for (const [url, v] of this.cluster) this.mine.set(url, v.index);
    this.flusher.start(this.options.flushMs ?? 1000, () => undefined);
  }

  /** The cluster's saved next index of a log (any node's), as last seen. */
  clusterCursor(url: string): number | undefined {
    return this.cluster.get(url)?.index;
  }

  get(url: string): number | undefined {
    return this.mine.get(url);
  }

  set(url: string, nextIndex: number): void {
    if (this.mine.get(url) === nextIndex) return;
    this.mine.set(url, nextIndex);
    this.dirty.add(url);
    this.flusher.markDirty();
  }

  flushHealth(): CursorFlushHealth {
    return { lastError: this.lastError, errors: this.errors };
  }

  flush(): Promise<void> {
    return this.flusher.flush();
  }

  /** Saves what changed, then stops mirroring the bucket. */
  close(): Promise<void> {
    return this.flusher.close().finally(() => this.watcher?.stop());
  }

  private seen(v: KvValue): void {
    const url = fromBucketKey(v.key);
    const known = this.cluster.get(url);
    if (known === undefined || v.revision > known.revision) this.cluster.set(url, { index: v.value, revision: v.revision });
  }

  private async write(): Promise<void> {
    const kv = this.kv;
    try {
      if (kv === undefined) throw new Error('bucket not open');
      await this.options.beforeWrite?.();
      for (const url of [...this.dirty]) {
        this.dirty.delete(url);
        try {
          await this.save(kv, url, this.mine.get(url)!);
        } catch (err) {
          this.dirty.add(url);
          throw err;
        }
      }
    } catch (err) {
      const error = new CertstreamError('STATE_ERR_IO', `cannot save cursors to ${this.path}: ${describeError(err)}`, { cause: err });
      this.errors++;
      this.lastError = describeError(error);
      this.options.flushErrors?.inc();
      this.failureLog.log('error', 'flush', 'cursor flush to NATS failed; retrying every flush period', { error: this.lastError, failures: this.errors });
      throw error;
    }
    if (this.lastError !== null) {
      this.options.logger.info('cursors saved to NATS again after failures', { failures: this.errors });
      this.failureLog.reset('flush');
    }
    this.lastError = null;
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
    throw new Error(`cursor of ${url}: too many concurrent updates`);
  }
}
