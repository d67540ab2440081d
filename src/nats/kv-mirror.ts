/**
 * Keeps a key-value bucket's values flowing into `seen`: every saved value first, then each change any
 * node makes, for as long as the returned watch runs. The cursors and the positions both mirror their
 * bucket this way, so that synchronous reads see the cluster's values.
 */
import type { KV, KvEntry } from '@nats-io/kv';
import { CertstreamError, describeError } from '../errors.js';

/** A saved value: both buckets hold non-negative integers (a next index, a stream seq). */
export interface KvValue {
  readonly key: string;
  readonly value: number;
  readonly revision: number;
}

/** The value of a PUT entry, or undefined for a delete or anything that is not a non-negative integer. */
export function kvValue(e: KvEntry): KvValue | undefined {
  if (e.operation !== 'PUT') return undefined;
  const value = Number(e.string());
  return Number.isSafeInteger(value) && value >= 0 ? { key: e.key, value, revision: e.revision } : undefined;
}

/** @throws CertstreamError NATS_ERR_STREAM when the bucket cannot be read */
export async function mirrorBucket(kv: KV, what: string, seen: (v: KvValue) => void): Promise<{ stop(): void }> {
  const take = (e: KvEntry | null) => {
    const v = e === null ? undefined : kvValue(e);
    if (v !== undefined) seen(v);
  };
  try {
    for await (const key of await kv.keys()) take(await kv.get(key));
    // The watch first repeats the last values (harmless: revisions order them), then every change.
    const watch = await kv.watch();
    void (async () => {
      for await (const e of watch) take(e);
    })().catch(() => undefined);
    return watch;
  } catch (err) {
    throw new CertstreamError('NATS_ERR_STREAM', `cannot read ${what}: ${describeError(err)}`, { cause: err });
  }
}
