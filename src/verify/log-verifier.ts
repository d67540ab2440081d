/**
 * Everything a follower keeps to verify one log (pure): the compact range of the entries streamed, the
 * head verifier, and the range at the last verified size (where the one re-fetch after a root mismatch
 * restarts). The follower feeds it the signed heads it fetched (after their signatures verified) and the
 * leaf hashes of the entries it streams, in index order; it answers with the verdicts of issue 21 §3.
 * Its JSON goes into the cursor file in the same atomic write as the cursor.
 */
import { CertstreamError } from '../errors.js';
import { CompactRange, type CompactRangeState } from './compact-range.js';
import { HeadVerifier, type HeadVerdict } from './head-verifier.js';
import type { TreeHead } from './tree-head.js';

/** The saved form. */
export interface LogVerifierState {
  /** The range of the entries streamed (its size is the cursor). */
  range: CompactRangeState;
  /** The last verified head, or null before the first. */
  verified: { tree_size: number; timestamp: number; root: string } | null;
  /**
   * Where a re-fetch restarts: the range at the verified head's size, or the trusted starting range
   * (fromTrustedRange) before the first verified head; null for a log followed from entry 0.
   */
  verified_range: CompactRangeState | null;
}

export class LogVerifier {
  private readonly heads: HeadVerifier;

  private constructor(
    private range: CompactRange,
    verified: TreeHead | null,
    private verifiedRange: CompactRange | null,
  ) {
    this.heads = new HeadVerifier(verified);
  }

  /** A log followed from entry 0. */
  static fromStart(): LogVerifier {
    return new LogVerifier(new CompactRange(), null, null);
  }

  /**
   * A log followed from entry `range.size`, whose range was proven against a signed head
   * (rangeFromInclusionProof): a fresh start at head - backfill, or a cursor saved before verification
   * existed. Nothing is verified yet (healthz `pending`); a re-fetch restarts from here.
   */
  static fromTrustedRange(range: CompactRange): LogVerifier {
    return new LogVerifier(range.clone(), null, range.clone());
  }

  /** Entries hashed so far (equals the follower's cursor). */
  get streamedSize(): number {
    return this.range.size;
  }

  /** The largest tree size whose signed root matched our computation, or null (healthz `verified_size`). */
  get verifiedSize(): number | null {
    return this.heads.verified?.treeSize ?? null;
  }

  /** The last verified head, for evidence files and the dashboard. */
  get verifiedHead(): TreeHead | null {
    return this.heads.verified;
  }

  /** Signed heads the stream has not reached yet. */
  get pendingHeads(): readonly TreeHead[] {
    return this.heads.pending;
  }

  /**
   * A head whose signature verified. A head at exactly the streamed size is checked at once; one the
   * stream has already passed (above the verified size, below the streamed one) cannot be checked any
   * more and answers `wait` (the next head the stream reaches verifies the entries instead).
   */
  addHead(head: TreeHead): HeadVerdict {
    const verified = this.verifiedSize ?? -1;
    if (head.treeSize > verified && head.treeSize < this.range.size) return { status: 'wait' };
    const verdict = this.heads.addHead(head);
    if (verdict.status === 'wait' && head.treeSize === this.range.size) return this.check();
    return verdict;
  }

  /**
   * The leaf hashes of entries [firstIndex, firstIndex + n), in order; entries already hashed are skipped.
   * Each time the streamed size reaches a pending head's size the root is compared. Stops at the first
   * root mismatch (the leaves after it are not added).
   * @returns the verdicts reached (`ok` or `root_mismatch`), in order; empty when no head was reached
   * @throws RangeError on a gap (firstIndex beyond the streamed size)
   */
  addLeaves(firstIndex: number, leafHashes: readonly Uint8Array[]): HeadVerdict[] {
    if (!Number.isSafeInteger(firstIndex) || firstIndex < 0 || firstIndex > this.range.size) {
      throw new RangeError(`leaves from ${firstIndex} cannot follow ${this.range.size} streamed entries`);
    }
    const out: HeadVerdict[] = [];
    for (let i = this.range.size - firstIndex; i < leafHashes.length; i++) {
      this.range.append(leafHashes[i]);
      if (this.range.size === this.heads.nextCheckSize) {
        const v = this.check();
        out.push(v);
        if (v.status === 'root_mismatch') break;
      }
    }
    return out;
  }

  /**
   * Back to the last verified size, for the one re-fetch before a root mismatch is declared.
   * @returns the index to fetch again from (0 before any verified head)
   */
  rewindToVerified(): number {
    this.range = this.verifiedRange?.clone() ?? new CompactRange();
    return this.range.size;
  }

  /** The state to save with the cursor. */
  toJSON(): LogVerifierState {
    const v = this.heads.verified;
    return {
      range: this.range.toJSON(),
      verified: v && { tree_size: v.treeSize, timestamp: v.timestamp, root: Buffer.from(v.rootHash).toString('base64') },
      verified_range: this.verifiedRange?.toJSON() ?? null,
    };
  }

  /**
   * Rebuilds a saved verifier; every field checked.
   * @param expectedSize the saved cursor (the range's size must equal it)
   * @throws CertstreamError STATE_ERR_CORRUPT
   */
  static fromJSON(state: unknown, where: string, expectedSize?: number): LogVerifier {
    const bad = (why: string) => new CertstreamError('STATE_ERR_CORRUPT', `${where}: ${why}`);
    const o = state as Partial<Record<keyof LogVerifierState, unknown>> | null;
    if (typeof o !== 'object' || o === null || Array.isArray(o)) throw bad('verification state is not an object');
    const range = CompactRange.fromJSON(o.range, `${where}: range`, expectedSize);
    if (o.verified === null || o.verified === undefined) {
      if (o.verified_range === null || o.verified_range === undefined) return new LogVerifier(range, null, null);
      const start = CompactRange.fromJSON(o.verified_range, `${where}: verified_range`);
      if (start.size > range.size) throw bad('verified_range is ahead of the range');
      return new LogVerifier(range, null, start);
    }
    const v = o.verified as Record<string, unknown>;
    const size = v.tree_size;
    const timestamp = v.timestamp;
    const root = v.root;
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0 || size > range.size) throw bad('bad verified.tree_size');
    if (typeof timestamp !== 'number' || !Number.isSafeInteger(timestamp) || timestamp < 0) throw bad('bad verified.timestamp');
    if (typeof root !== 'string' || !/^[A-Za-z0-9+/]{43}=$/.test(root)) throw bad('bad verified.root');
    const verifiedRange = CompactRange.fromJSON(o.verified_range, `${where}: verified_range`, size);
    const head: TreeHead = { treeSize: size, timestamp, rootHash: Buffer.from(root, 'base64') };
    if (!verifiedRange.root().equals(head.rootHash)) throw bad('verified_range does not give the verified root');
    return new LogVerifier(range, head, verifiedRange);
  }

  private check(): HeadVerdict {
    const v = this.heads.checkRoot(this.range.size, this.range.root());
    if (v.status === 'ok') this.verifiedRange = this.range.clone();
    return v;
  }
}
