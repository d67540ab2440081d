/**
 * The verification of one followed log (interface.md "Verified logs"): its key from the log list, the
 * LogVerifier (src/verify/, pure) fed with the signed heads and leaf hashes the follower fetched, the
 * state shown in /healthz, and what happens when the log lies: the failure is counted
 * (certstream_log_verification_failures_total), logged once as an error, kept as evidence under
 * `<state-dir>/evidence/`, and saved with the cursor so that a restart keeps it.
 *
 * A bad signature holds the log until a head verifies again (a transient fault heals itself only by a
 * valid signed head). A root that still does not match after the one re-fetch, or two signed heads that
 * cannot both be true, stop the log for good: only the operator's reset (README "Verified logs": remove
 * the log's entry from cursors.json while the server is stopped) follows it again.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { CertstreamError, describeError, isCertstreamError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { ServerMetrics } from '../metrics/server-metrics.js';
import { writeFileAtomic } from '../state/atomic-file.js';
import { CompactRange } from '../verify/compact-range.js';
import { EVIDENCE_DIR, evidenceFileName, evidenceHead, type Evidence } from '../verify/evidence.js';
import type { HeadVerdict } from '../verify/head-verifier.js';
import { parseLogKey, type LogKey } from '../verify/log-key.js';
import { LogVerifier, type LogVerifierState } from '../verify/log-verifier.js';
import type { TreeHead } from '../verify/tree-head.js';
import { verifyServedHead } from './served-head.js';
import { VERIFICATION_FAILURE_REASONS, type LogDescriptor, type VerificationFailureReason, type VerificationState } from './types.js';

/** A failure as saved with the cursor. */
export interface SavedFailure {
  reason: VerificationFailureReason;
  error: string;
  /** Path of the evidence file, or null. */
  evidence: string | null;
}

/** The verification state saved with a log's cursor (cursor-store.ts). */
export interface SavedVerification {
  /** The verifier's state; null while pending (no range yet) or with verification off. */
  tree: LogVerifierState | null;
  failure: SavedFailure | null;
  /**
   * The last verified head exactly as served (get-sth JSON, checkpoint text), so that evidence written
   * after a restart still holds it; absent before the first verified head or over SAVED_HEAD_MAX_BYTES.
   */
  verified_head?: string;
}

/** Largest served head kept with the state (a checkpoint with many cosignatures is still far below). */
export const SAVED_HEAD_MAX_BYTES = 16 * 1024;

/** What a LogVerification needs. */
export interface LogVerificationDeps {
  log: LogDescriptor;
  /** --verify */
  enabled: boolean;
  /** The saved cursor, or undefined. */
  next: number | undefined;
  /** The saved verification state (unchecked), or undefined. */
  saved: unknown;
  /** Where the state was read from, for messages. */
  where: string;
  /** State directory (evidence files go in its `evidence/`); undefined keeps no evidence files. */
  stateDir: string | undefined;
  metrics: ServerMetrics;
  logger: Logger;
  now: () => number;
  /** Called when a failure is recorded or cleared (the follower saves it with the cursor). */
  changed: () => void;
  /** Called with the log's URL whenever its verified size or state may have changed (verified=1 clients read on). */
  announce?: (log: string, verifiedSize: number | null, state: VerificationState, stopped: boolean) => void;
}

/** The answer to a window of leaves: all checked heads matched (or none was reached), or a root differed. */
export type LeavesOutcome = 'ok' | 'mismatch';

const FAILURE_CODE: Record<VerificationFailureReason, 'VERIFY_ERR_SIGNATURE' | 'VERIFY_ERR_ROOT_MISMATCH' | 'VERIFY_ERR_INCONSISTENT'> = {
  signature: 'VERIFY_ERR_SIGNATURE',
  root_mismatch: 'VERIFY_ERR_ROOT_MISMATCH',
  inconsistent: 'VERIFY_ERR_INCONSISTENT',
};

/** Whether `err` is a failure recorded by a LogVerification (the follower then holds the log). */
export function isVerificationFailure(err: unknown): err is CertstreamError {
  return isCertstreamError(err, 'VERIFY_ERR_SIGNATURE', 'VERIFY_ERR_ROOT_MISMATCH', 'VERIFY_ERR_INCONSISTENT');
}

export class LogVerification {
  /** The log's key, or null when verification is off or the list has no usable key. */
  readonly key: LogKey | null;
  private readonly mode: 'on' | 'off' | 'unverifiable';
  private verifier: LogVerifier | null = null;
  private failure: SavedFailure | null = null;
  /**
   * Heads exactly as served, by tree size (the first served for each size) with their root, for
   * evidence files: a body is given for a head only when the roots agree (a fork has the same size).
   */
  private readonly served = new Map<number, { root: Uint8Array; body: string }>();
  /** The last head whose signature verified (where a pending log's range is proven). */
  private latest: TreeHead | null = null;
  private readonly log: LogDescriptor;

  constructor(private readonly deps: LogVerificationDeps) {
    const log = (this.log = deps.log);
    let key: LogKey | null = null;
    let mode: 'on' | 'off' | 'unverifiable' = deps.enabled ? 'on' : 'off';
    if (deps.enabled) {
      try {
        key = parseLogKey(log.key, log.logId);
      } catch (err) {
        mode = 'unverifiable';
        deps.logger.warn('log has no usable key: streamed unverified (verified=1 clients receive none of its entries)', { log: log.url, error: describeError(err) });
      }
    }
    this.key = key;
    this.mode = mode;
    this.load(deps.saved, deps.next ?? 0);
    // A failure kept from before the restart is held again, and counted again: the alert stays until the reset.
    if (this.failure !== null && mode === 'on') {
      deps.metrics.verificationFailures.inc({ log: log.url, reason: this.failure.reason });
      deps.logger.error('log failed verification before the restart: still stopped at its last verified size', { log: log.url, ...this.failure });
    }
    if (this.failure !== null && mode !== 'on') {
      deps.logger.warn(`verification is ${mode}, but this log failed verification before`, { log: log.url, ...this.failure });
    }
    const v = this.verifier?.verifiedSize;
    if (v !== undefined && v !== null) deps.metrics.verifiedSize.set({ log: log.url }, v);
    this.announce();
  }

  /** Tells the hook where the log stands now. */
  private announce(): void {
    this.deps.announce?.(this.log.url, this.verifiedSize, this.state, this.stopped);
  }

  /** `/healthz` verification. */
  get state(): VerificationState {
    if (this.mode !== 'on') return this.mode;
    if (this.failure !== null) return 'failed';
    return this.verifier?.verifiedSize === null || this.verifier === null ? 'pending' : 'ok';
  }

  /** Largest tree size whose signed root matched our computation, or null. */
  get verifiedSize(): number | null {
    return this.verifier?.verifiedSize ?? null;
  }

  /** The failure holding the log, as one line, or null. */
  get lastError(): string | null {
    return this.failure && `verification failed (${this.failure.reason}): ${this.failure.error}`;
  }

  /** Whether the log is stopped for good (root mismatch, inconsistent heads) until the operator resets it. */
  get stopped(): boolean {
    return this.mode === 'on' && this.failure !== null && this.failure.reason !== 'signature';
  }

  /** Whether fetched entries must be hashed (a range is being computed). */
  get hashing(): boolean {
    return this.mode === 'on' && this.verifier !== null && this.failure === null;
  }

  /** Whether the log waits for a proven starting range (a cursor from before verification, a start at head − backfill). */
  get needsRange(): boolean {
    return this.mode === 'on' && this.verifier === null && this.failure === null;
  }

  /** The last head whose signature verified, or null. */
  get latestHead(): TreeHead | null {
    return this.latest;
  }

  /** A log whose cursor was just set for the first time (no saved cursor): from entry 0 there is nothing to prove. */
  started(next: number): void {
    if (this.mode === 'on' && next === 0 && this.verifier === null) this.begin(LogVerifier.fromStart());
  }

  /** The range of the entries before the cursor, proven against a signed head: verification starts. */
  trust(range: CompactRange): void {
    this.begin(LogVerifier.fromTrustedRange(range));
    this.deps.logger.info('log verification started from a proven range', { log: this.log.url, from: range.size });
  }

  /** A verifier from now on, holding the head just verified. */
  private begin(verifier: LogVerifier): void {
    this.verifier = verifier;
    const head = this.latest;
    if (head !== null) this.verdicts([verifier.addHead(head)], this.servedBody(head), true);
  }

  /**
   * A head as served. Its signature is checked with `verify` (VERIFY_ERR_SIGNATURE fails the log until a
   * head verifies again); then it is held against the heads before it.
   * @returns `mismatch` when the head is at exactly the streamed size and its root is not ours (re-fetch once)
   * @throws CertstreamError VERIFY_ERR_* once the failure is recorded
   */
  head(served: string, verify: (key: LogKey) => TreeHead): LeavesOutcome {
    if (this.mode !== 'on' || this.stopped) return 'ok';
    let head: TreeHead;
    try {
      head = verify(this.key!);
    } catch (err) {
      if (!isCertstreamError(err, 'VERIFY_ERR_SIGNATURE')) throw err;
      throw this.fail('signature', describeError(err), { head: null, served });
    }
    if (!this.served.has(head.treeSize)) this.served.set(head.treeSize, { root: head.rootHash, body: served });
    this.latest = head;
    if (this.failure !== null) {
      this.deps.logger.info('log head verifies again after a bad signature: following it again', { log: this.log.url, tree_size: head.treeSize });
      this.failure = null;
      this.deps.changed();
      this.announce();
    }
    if (this.verifier === null) return 'ok';
    return this.verdicts([this.verifier.addHead(head)], served, false);
  }

  /**
   * The leaf hashes of entries [first, first + n) as fetched. `final` is the re-fetch: a mismatch then
   * fails the log.
   * @throws CertstreamError VERIFY_ERR_ROOT_MISMATCH once recorded (final only)
   */
  leaves(first: number, hashes: readonly Uint8Array[], final: boolean): LeavesOutcome {
    if (!this.hashing) return 'ok';
    return this.verdicts(this.verifier!.addLeaves(first, hashes), undefined, final);
  }

  /** Back to the last verified size for the one re-fetch; returns the index to fetch from. */
  rewind(): number {
    const from = this.verifier!.rewindToVerified();
    this.deps.logger.warn('computed root differs from a signed head: fetching the entries again once', {
      log: this.log.url, from, verified_size: this.verifiedSize,
    });
    return from;
  }

  /** What to save with the cursor (undefined: nothing, a bare cursor). */
  saved(): SavedVerification | undefined {
    const tree = this.mode === 'on' && this.verifier !== null ? this.verifier.toJSON() : null;
    if (tree === null && this.failure === null) return undefined;
    const verified = this.verifier?.verifiedHead;
    const head = tree !== null && verified !== null && verified !== undefined ? this.servedBody(verified) : undefined;
    if (head === undefined || Buffer.byteLength(head) > SAVED_HEAD_MAX_BYTES) return { tree, failure: this.failure };
    return { tree, failure: this.failure, verified_head: head };
  }

  /** The body of `head` as served, when kept. */
  private servedBody(head: TreeHead): string | undefined {
    const s = this.served.get(head.treeSize);
    return s !== undefined && Buffer.from(s.root).equals(head.rootHash) ? s.body : undefined;
  }

  private verdicts(verdicts: readonly HeadVerdict[], served: string | undefined, final: boolean): LeavesOutcome {
    for (const v of verdicts) {
      if (v.status === 'ok') {
        this.deps.metrics.verifiedSize.set({ log: this.log.url }, v.verified.treeSize);
        for (const size of this.served.keys()) if (size < v.verified.treeSize) this.served.delete(size);
        this.announce();
      } else if (v.status === 'inconsistent') {
        const why = v.reason === 'same_size_other_root' ? 'a signed head of the same size with another root' : 'a signed head smaller than one already verified';
        throw this.fail('inconsistent', `${why}: tree size ${v.head.treeSize} conflicts with ${v.conflictsWith.treeSize}`, {
          head: v.head, served, conflictsWith: v.conflictsWith,
        });
      } else if (v.status === 'root_mismatch') {
        if (!final) return 'mismatch';
        throw this.fail('root_mismatch', `the root of the first ${v.head.treeSize} entries served is not the signed root (after one re-fetch)`, {
          head: v.head, computedRoot: v.computedRoot,
        });
      }
    }
    return 'ok';
  }

  /** Records a failure (metric, one error line, evidence, saved state) and returns the error to throw. */
  private fail(
    reason: VerificationFailureReason,
    message: string,
    parts: { head: TreeHead | null; served?: string; conflictsWith?: TreeHead; computedRoot?: Buffer },
  ): CertstreamError {
    const log = this.log;
    const error = new CertstreamError(FAILURE_CODE[reason], `verification failed (${reason}): ${message}`);
    if (this.failure !== null) return error; // already held (a bad signature again): counted once
    const verified = this.verifier?.verifiedHead ?? null;
    const evidence: Evidence = {
      log: log.url,
      name: log.name,
      kind: log.kind,
      key: log.key ?? '',
      reason,
      error: message,
      detected_at: new Date(this.deps.now()).toISOString(),
      streamed_size: this.verifier?.streamedSize ?? this.deps.next ?? 0,
      verified: verified && evidenceHead(verified, this.servedBody(verified)),
      head: parts.head ? evidenceHead(parts.head, parts.served ?? this.servedBody(parts.head)) : null,
    };
    if (parts.head === null) evidence.served_head = parts.served ?? null;
    if (parts.conflictsWith) evidence.conflicts_with = evidenceHead(parts.conflictsWith, this.servedBody(parts.conflictsWith));
    if (parts.computedRoot) evidence.computed_root = parts.computedRoot.toString('base64');
    const path = this.deps.stateDir === undefined ? null : join(this.deps.stateDir, EVIDENCE_DIR, evidenceFileName(evidence));
    this.failure = { reason, error: message, evidence: path };
    this.deps.metrics.verificationFailures.inc({ log: log.url, reason });
    this.deps.logger.error('log failed verification: stopped at its last verified size', {
      log: log.url, reason, error: message, verified_size: this.verifiedSize, evidence: path,
    });
    if (path !== null) void this.writeEvidence(path, evidence);
    this.deps.changed();
    this.announce();
    return error;
  }

  private async writeEvidence(path: string, evidence: Evidence): Promise<void> {
    try {
      await mkdir(join(this.deps.stateDir!, EVIDENCE_DIR), { recursive: true });
      await writeFileAtomic(path, `${JSON.stringify(evidence, null, 2)}\n`);
    } catch (err) {
      this.deps.logger.error('cannot write the evidence file', { log: this.log.url, path, error: describeError(err) });
    }
  }

  /** Reads the saved state; a range that does not load leaves the log pending (re-proven), a failure always holds. */
  private load(saved: unknown, next: number): void {
    if (saved === undefined) return;
    const o = (typeof saved === 'object' && saved !== null ? saved : {}) as Partial<Record<keyof SavedVerification, unknown>>;
    if (o.failure !== undefined && o.failure !== null) {
      const f = o.failure as Partial<Record<keyof SavedFailure, unknown>>;
      const reason = VERIFICATION_FAILURE_REASONS.find((r) => r === f.reason) ?? 'inconsistent';
      this.failure = {
        reason,
        error: typeof f.error === 'string' ? f.error : `unreadable saved failure in ${this.deps.where}`,
        evidence: typeof f.evidence === 'string' ? f.evidence : null,
      };
    }
    if (this.mode !== 'on' || o.tree === undefined || o.tree === null) return;
    try {
      // A stopped log never hashes again, and its range may end past the cursor (the window whose root
      // failed was hashed, never streamed): only its verified head is still used (verified_size).
      this.verifier = LogVerifier.fromJSON(o.tree, this.deps.where, this.stopped ? undefined : next);
    } catch (err) {
      this.deps.logger.warn('saved verification state unusable: the log is pending until a range is proven again', {
        log: this.log.url, error: describeError(err),
      });
      return;
    }
    this.loadVerifiedHead(o.verified_head);
  }

  /**
   * The saved body of the last verified head, for evidence: kept only when it is that head (its
   * signature verifies, its size and root are the verified ones), since evidence must be exactly true.
   */
  private loadVerifiedHead(saved: unknown): void {
    const verified = this.verifier?.verifiedHead;
    if (typeof saved !== 'string' || verified === null || verified === undefined || Buffer.byteLength(saved) > SAVED_HEAD_MAX_BYTES) return;
    try {
      const head = verifyServedHead(this.log, saved, this.key!);
      if (head.treeSize !== verified.treeSize || !Buffer.from(head.rootHash).equals(verified.rootHash)) throw new Error('it is not the verified head');
      this.served.set(head.treeSize, { root: head.rootHash, body: saved });
    } catch (err) {
      this.deps.logger.warn('saved verified head unusable: evidence will lack its body', { log: this.log.url, error: describeError(err) });
    }
  }
}
