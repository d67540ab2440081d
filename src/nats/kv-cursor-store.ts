/**
 * Ingest cursors in a JetStream key-value bucket (`<stream>_cursors`) shared by every ingest node: a
 * restarted or replacement node continues where the cluster stopped, and a node running behind another
 * learns (through a watch) how far the cluster got, so that its publisher leaves out what was stored.
 *
 * A cursor only moves forward: writes are compare-and-set on the key's revision and keep the larger
 * index, so two nodes saving the same log cannot move it back. Like the file, a cursor is written only
 * after `beforeWrite` — the publisher's `settled()` — and as it was when that wait began (the followers
 * move it meanwhile, past entries not yet acknowledged): every entry below a saved cursor is in the stream.
 *
 * A value is what the cursor file keeps for a log (ct/cursor-store.ts): a bare next index, or
 * `{"next":N,"verifier":{...}}` with the log's verification state (its compact range, last verified
 * head, a failure), so that a restarted ingest goes on verifying at once and keeps a failure. A value
 * at the same index is written again when its verification state changed (a failure found there).
 * A move of a log's verified size or failure is saved at once rather than at the flush period (still
 * after `beforeWrite`, and only the changed cursors): edges feed their verified=1 clients from it.
 */
import type { KV, KvEntry } from '@nats-io/kv';
import { cursorValue, savedCursorValue, type CursorFlushHealth, type CursorValue, type Cursors } from '../ct/cursor-store.js';
import { CertstreamError, describeError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { FlushFailures } from '../state/flush-failures.js';
import { SavedMap } from '../state/saved-map.js';
import { kvText, mirrorBucketWith, type KvRecord } from './kv-mirror.js';
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
  private readonly mine: SavedMap<CursorValue>;
  /** The bucket's values as last seen (load, watch and our own writes), with their text. */
  private readonly cluster = new Map<string, { value: CursorValue; text: string; revision: number }>();
  private readonly failures: FlushFailures;
  private kv: KV | undefined;
  private watcher: { stop(): void } | undefined;
  /** A save is due at once (a verified size or failure moved), coalescing the moves of one turn. */
  private savingSoon = false;

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
    this.watcher = await mirrorBucketWith(kv, `cursors from ${this.path}`, kvCursor, (e) => this.seen(e), { logger: this.options.logger, restarts: this.options.watchRestarts });
    if (!options.ignoreSaved) for (const [url, v] of this.cluster) this.mine.learn(url, v.value);
    this.mine.start(this.options.flushMs ?? 1000, () => undefined);
  }

  /** The cluster's saved next index of a log (any node's), as last seen. */
  clusterCursor(url: string): number | undefined {
    return this.cluster.get(url)?.value.next;
  }

  get(url: string): number | undefined {
    return this.mine.get(url)?.next;
  }

  /** The verification state saved with a log's cursor, unchecked (LogVerification checks it). */
  verifier(url: string): unknown {
    return this.mine.get(url)?.verifier;
  }

  set(url: string, nextIndex: number, verifier?: object): void {
    const moved = provenMark(verifier) !== provenMark(this.mine.get(url)?.verifier);
    this.mine.set(url, verifier === undefined ? { next: nextIndex } : { next: nextIndex, verifier });
    // The edges' verified=1 clients wait for this value (kv-coverage.ts): saved now, not at the period.
    if (moved && !this.savingSoon && this.kv !== undefined) {
      this.savingSoon = true;
      setImmediate(() => {
        this.savingSoon = false;
        this.mine.flush().catch(() => undefined);
      });
    }
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

  private seen(v: KvRecord<{ value: CursorValue; text: string }>): void {
    const url = fromBucketKey(v.key);
    const known = this.cluster.get(url);
    if (known === undefined || v.revision > known.revision) this.cluster.set(url, { ...v.value, revision: v.revision });
  }

  /** Saves the cursors as they were when the wait for the acknowledgements began. */
  private async write(cursors: ReadonlyMap<string, CursorValue>): Promise<void> {
    const kv = this.kv;
    if (kv === undefined) throw new CertstreamError('NATS_ERR_UNAVAILABLE', 'the bucket is not open yet');
    for (const [url, value] of cursors) await this.save(kv, url, value);
  }

  /**
   * Compare-and-set to the larger index (at the same index, to the newer verification state): a
   * conflict re-reads the key and tries again.
   */
  private async save(kv: KV, url: string, value: CursorValue): Promise<void> {
    const key = bucketKey(url);
    const text = JSON.stringify(savedCursorValue(value));
    for (let attempt = 0; attempt < 5; attempt++) {
      const known = this.cluster.get(url);
      if (known !== undefined && (known.value.next > value.next || (known.value.next === value.next && known.text === text))) return;
      try {
        const revision = known === undefined ? await kv.create(key, text) : await kv.update(key, text, known.revision);
        this.cluster.set(url, { value, text, revision });
        return;
      } catch (err) {
        // Someone else wrote it first: learn their value and decide again.
        const current = await kv.get(key);
        const v = current === null ? undefined : kvCursor(current);
        if (v === undefined) throw err;
        this.seen(v);
      }
    }
    throw new CertstreamError('NATS_ERR_UNAVAILABLE', `cursor of ${url}: other nodes updated it 5 times in a row`);
  }
}

/** What a saved verification state proves, for comparison: the verified size and the failure, if any. */
function provenMark(verifier: unknown): string {
  const v = (typeof verifier === 'object' && verifier !== null ? verifier : {}) as { tree?: { verified?: { tree_size?: unknown } | null } | null; failure?: { reason?: unknown } | null };
  return `${String(v.tree?.verified?.tree_size)} ${String(v.failure?.reason)}`;
}

/**
 * A cursor entry of the bucket: its value (cursor-store.ts's `cursorValue`) and its text; undefined for
 * a delete or a value that is not a cursor (skipped, as the file's reader would refuse it).
 */
export function kvCursor(e: KvEntry): KvRecord<{ value: CursorValue; text: string }> | undefined {
  const t = kvText(e);
  if (t === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(t.value);
  } catch {
    return undefined;
  }
  const value = cursorValue(parsed);
  return value === undefined ? undefined : { ...t, value: { value, text: t.value } };
}
