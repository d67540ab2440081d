/**
 * `verified=1` on a NATS edge (interface.md "Verified logs"): the logs are verified on the ingest nodes,
 * which save each log's verification state with its cursor in the `<stream>_cursors` bucket
 * (kv-cursor-store.ts, the value `{next, verifier}` of ct/cursor-store.ts). An edge mirrors that bucket
 * and feeds what each value proves into the hub's VerifiedCoverage.
 *
 * What a value proves (`savedCoverage`, pure):
 * - a verified head: entries below its tree size are covered (`ok`);
 * - a failure for good (root mismatch, inconsistent heads): covered up to the last verified size, never
 *   beyond (`failed`, stopped); a bad signature holds the log until its heads verify again (not stopped);
 * - a bare value (an older ingest, a log not verified yet, unverifiable, or verification off: the saved
 *   value does not tell these apart) or a state that does not load: nothing proven (`pending`, held).
 * A log the bucket says nothing about is held too: the coverage is never marked ready on an edge, so an
 * unknown log is `later`, not `never` (its ingest may not have saved it yet).
 *
 * The ingest saves a cursor at its flush period (min(1 s, --durable-ping-interval)), with the state of
 * its last move, so an edge's verified size is at most about one flush period behind the ingest's.
 */
import type { KV } from '@nats-io/kv';
import type { CursorValue } from '../ct/cursor-store.js';
import type { SavedVerification } from '../ct/log-verification.js';
import type { VerificationState } from '../ct/types.js';
import type { VerifiedCoverage } from '../stream/verified-coverage.js';
import { LogVerifier } from '../verify/log-verifier.js';
import { kvCursor } from './kv-cursor-store.js';
import { mirrorBucketWith, type BucketMirror, type MirrorOptions } from './kv-mirror.js';
import { fromBucketKey } from './stream-setup.js';

/** What a saved cursor value proves of its log. */
export interface SavedCoverage {
  readonly verifiedSize: number | null;
  readonly state: VerificationState;
  /** Nothing beyond `verifiedSize` will be proven (until an operator's reset). */
  readonly stopped: boolean;
}

/** What a log's saved value proves (pure; a state that does not load proves nothing). */
export function savedCoverage(value: CursorValue, where: string): SavedCoverage {
  const saved = (typeof value.verifier === 'object' && value.verifier !== null ? value.verifier : {}) as Partial<Record<keyof SavedVerification, unknown>>;
  let verifiedSize: number | null = null;
  if (saved.tree !== undefined && saved.tree !== null) {
    try {
      // Every field checked, the verified root against its range: what the ingest would load.
      verifiedSize = LogVerifier.fromJSON(saved.tree, where).verifiedSize;
    } catch {
      verifiedSize = null;
    }
  }
  const failure = saved.failure as { reason?: unknown } | null | undefined;
  if (failure !== undefined && failure !== null) return { verifiedSize, state: 'failed', stopped: failure.reason !== 'signature' };
  return { verifiedSize, state: verifiedSize === null ? 'pending' : 'ok', stopped: false };
}

/**
 * Mirrors the cursor bucket into `coverage` until `stop()` (a value older than one seen for its key, as
 * a restarted watch repeats, is ignored).
 * @throws CertstreamError NATS_ERR_STREAM when the bucket cannot be read
 */
export function mirrorCoverage(kv: KV, bucketName: string, coverage: VerifiedCoverage, options: MirrorOptions = {}): Promise<BucketMirror> {
  const revisions = new Map<string, number>();
  return mirrorBucketWith(kv, `verified sizes from ${bucketName}`, kvCursor, (v) => {
    if ((revisions.get(v.key) ?? 0) >= v.revision) return;
    revisions.set(v.key, v.revision);
    const log = fromBucketKey(v.key);
    const c = savedCoverage(v.value.value, `${bucketName} ${log}`);
    coverage.update(log, c.verifiedSize, c.state, c.stopped);
  }, options);
}
