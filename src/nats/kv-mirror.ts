/**
 * Keeps a key-value bucket's values flowing into `seen`: every saved value first, then each change any
 * node makes, until `stop()`. The cursors and the positions both mirror their bucket this way, so that
 * synchronous reads see the cluster's values.
 *
 * A watch can end on its own: an error while handling an entry, or its consumer closing under it. A
 * node whose watch ended would stop learning the other nodes' values without a word, so an ended watch
 * is logged, counted (`restarts`, certstream_nats_kv_watch_restarts_total) and started again. The new
 * watch first repeats every key's last value, so nothing that changed meanwhile is missed; revisions
 * keep an old value from overwriting a newer one. A watch that keeps ending at once is restarted with
 * a capped exponential backoff; one ended by the connection closing (the node is stopping) is not.
 * What a value means is the reader's (`parse`): integers for the positions, a cursor with its
 * verification state for the cursors, the text as it is for the guard that restores a lost bucket.
 */
import { ClosedConnectionError } from '@nats-io/transport-node';
import type { KV, KvEntry, KvWatchEntry } from '@nats-io/kv';
import type { QueuedIterator } from '@nats-io/transport-node';
import { backoffDelay, sleep, type BackoffOptions } from '../ct/backoff.js';
import { CertstreamError, describeError } from '../errors.js';
import { silentLogger, type Logger } from '../log/logger.js';
import { RateLimitedLog } from '../log/rate-limited.js';

/** A saved value, as its reader parsed it. */
export interface KvRecord<T> {
  readonly key: string;
  readonly value: T;
  readonly revision: number;
  /** When this revision was saved, epoch ms (the server's clock): a durable position's last use. */
  readonly created: number;
}

/** A non-negative integer value (a durable position's stream seq). */
export type KvValue = KvRecord<number>;

/** Reads an entry's value; undefined for a value the reader does not take. */
export type KvParse<T> = (e: KvEntry) => KvRecord<T> | undefined;

/** The text of a PUT entry, whatever it holds; undefined for a delete. */
export function kvText(e: KvEntry): KvRecord<string> | undefined {
  return e.operation === 'PUT' ? { key: e.key, value: e.string(), revision: e.revision, created: e.created.getTime() } : undefined;
}

/** The value of a PUT entry, or undefined for a delete or anything that is not a non-negative integer. */
export function kvValue(e: KvEntry): KvValue | undefined {
  const t = kvText(e);
  const value = Number(t?.value);
  return t !== undefined && Number.isSafeInteger(value) && value >= 0 ? { ...t, value } : undefined;
}

/** How a mirror reports and paces the restarts of a watch that ended. */
export interface MirrorOptions {
  /** Where an ended watch is reported (warn, at most once a minute per mirror; default: nowhere). */
  logger?: Logger;
  /** Counted once per restarted watch (the daemon passes certstream_nats_kv_watch_restarts_total). */
  restarts?: { inc(): void };
  /** Delays between restarts of a watch that keeps ending at once (default 250 ms doubling to 10 s). */
  retry?: BackoffOptions;
}

/** A running mirror. */
export interface BucketMirror {
  /** Ends the watch for good (no restart, nothing counted). */
  stop(): void;
}

/**
 * Mirrors a bucket of non-negative integers (mirrorBucketWith with kvValue).
 * @throws CertstreamError NATS_ERR_STREAM when the bucket cannot be read
 */
export function mirrorBucket(kv: KV, what: string, seen: (v: KvValue) => void, options: MirrorOptions = {}): Promise<BucketMirror> {
  return mirrorBucketWith(kv, what, kvValue, seen, options);
}

/**
 * Mirrors a bucket whose values `parse` reads (values it does not take are skipped).
 * @throws CertstreamError NATS_ERR_STREAM when the bucket cannot be read
 */
export async function mirrorBucketWith<T>(kv: KV, what: string, parse: KvParse<T>, seen: (v: KvRecord<T>) => void, options: MirrorOptions = {}): Promise<BucketMirror> {
  const take = (e: KvEntry | null) => {
    const v = e === null ? undefined : parse(e);
    if (v !== undefined) seen(v);
  };
  let watch: QueuedIterator<KvWatchEntry>;
  try {
    for await (const key of await kv.keys()) take(await kv.get(key));
    // The watch first repeats the last values (harmless: revisions order them), then every change.
    watch = await kv.watch();
  } catch (err) {
    throw new CertstreamError('NATS_ERR_STREAM', `cannot read ${what}: ${describeError(err)}`, { cause: err });
  }
  const stopped = new AbortController();
  const log = new RateLimitedLog(options.logger ?? silentLogger);
  const retry: BackoffOptions = { baseMs: 250, maxMs: 10_000, ...options.retry };

  /** Waits for the watch to end; resolves with its error, if it had one. */
  const follow = async (w: QueuedIterator<KvWatchEntry>): Promise<{ error?: unknown }> => {
    try {
      for await (const e of w) take(e);
      return {};
    } catch (error) {
      return { error };
    }
  };

  const run = async () => {
    let attempt = 0;
    for (;;) {
      const startedAt = Date.now();
      const { error } = await follow(watch);
      if (stopped.signal.aborted) return;
      // A watch that lasted starts the backoff over; one that ended at once waits longer each time.
      attempt = Date.now() - startedAt > (retry.maxMs ?? 10_000) ? 0 : attempt + 1;
      for (;;) {
        if (attempt > 1) await sleep(backoffDelay(attempt - 1, retry), stopped.signal);
        if (stopped.signal.aborted) return;
        try {
          watch = await kv.watch();
          break;
        } catch (err) {
          // The connection was closed: the node is stopping, and there is nothing left to learn.
          if (err instanceof ClosedConnectionError) return;
          log.log('warn', 'rewatch', `cannot watch ${what} again; retrying`, { error: describeError(err) });
          attempt++;
        }
      }
      if (stopped.signal.aborted) {
        watch.stop();
        return;
      }
      options.restarts?.inc();
      log.log('warn', 'ended', `the watch of ${what} ended; watching it again`, { error: error === undefined ? 'ended without an error' : describeError(error) });
      log.reset('rewatch');
    }
  };
  void run();
  return {
    stop() {
      stopped.abort();
      watch.stop();
    },
  };
}
