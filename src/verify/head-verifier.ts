/**
 * The verdicts on a log's signed heads (pure state machine, no I/O, no hashing). It holds the largest
 * head whose root matched our computation (`verified`) and the signed heads the stream has not reached
 * yet (`pending`), and answers:
 * - a new signed head: `ok` (it is the verified head again), `wait` (it is ahead: check it when the stream
 *   reaches its size), or `inconsistent` (it cannot be true together with a head already held: the same
 *   size with another root, or a size below the verified one);
 * - a root computed after streaming exactly `size` entries: `ok` (it matches the heads of that size, which
 *   become the verified head), `root_mismatch`, or `wait` (no head of that size).
 * Two signed heads that conflict are proof of a lying log; the verdict carries both.
 */
import type { TreeHead } from './tree-head.js';

/** Why two signed heads cannot both be true. */
export type InconsistencyReason = 'same_size_other_root' | 'smaller_than_verified';

/** The answer to a head or a computed root. */
export type HeadVerdict =
  | { status: 'ok'; verified: TreeHead }
  | { status: 'wait' }
  | { status: 'inconsistent'; reason: InconsistencyReason; head: TreeHead; conflictsWith: TreeHead }
  | { status: 'root_mismatch'; head: TreeHead; computedRoot: Buffer };

/** Most signed heads kept waiting; beyond it the smallest are dropped (a later head covers them). */
export const MAX_PENDING_HEADS = 64;

function sameRoot(a: TreeHead, b: TreeHead): boolean {
  return Buffer.from(a.rootHash).equals(Buffer.from(b.rootHash));
}

export class HeadVerifier {
  private verifiedHead: TreeHead | null;
  private readonly waiting: TreeHead[] = [];

  /** @param verified the head verified before (from the saved state), or null */
  constructor(verified: TreeHead | null = null) {
    this.verifiedHead = verified;
  }

  /** The largest signed head whose root matched the computed one, or null. */
  get verified(): TreeHead | null {
    return this.verifiedHead;
  }

  /** Signed heads ahead of the stream, by ascending size. */
  get pending(): readonly TreeHead[] {
    return this.waiting;
  }

  /** The smallest size at which the stream must compute its root (a pending head's), or null. */
  get nextCheckSize(): number | null {
    return this.waiting.length > 0 ? this.waiting[0].treeSize : null;
  }

  /** A new signed head, whose signature has been verified already. */
  addHead(head: TreeHead): HeadVerdict {
    const v = this.verifiedHead;
    if (v !== null && head.treeSize < v.treeSize) return { status: 'inconsistent', reason: 'smaller_than_verified', head, conflictsWith: v };
    if (v !== null && head.treeSize === v.treeSize) {
      return sameRoot(head, v) ? { status: 'ok', verified: v } : { status: 'inconsistent', reason: 'same_size_other_root', head, conflictsWith: v };
    }
    const same = this.waiting.find((p) => p.treeSize === head.treeSize);
    if (same !== undefined) {
      return sameRoot(same, head) ? { status: 'wait' } : { status: 'inconsistent', reason: 'same_size_other_root', head, conflictsWith: same };
    }
    this.waiting.push(head);
    this.waiting.sort((a, b) => a.treeSize - b.treeSize);
    if (this.waiting.length > MAX_PENDING_HEADS) this.waiting.shift();
    return { status: 'wait' };
  }

  /**
   * The root of the first `size` entries, as computed from the entries streamed. Pending heads below
   * `size` were passed without a check and are dropped (the caller checks at every `nextCheckSize`).
   */
  checkRoot(size: number, root: Uint8Array): HeadVerdict {
    while (this.waiting.length > 0 && this.waiting[0].treeSize < size) this.waiting.shift();
    if (this.waiting.length === 0 || this.waiting[0].treeSize !== size) return { status: 'wait' };
    const head = this.waiting[0];
    if (!Buffer.from(head.rootHash).equals(Buffer.from(root))) return { status: 'root_mismatch', head, computedRoot: Buffer.from(root) };
    this.waiting.shift();
    this.verifiedHead = head;
    return { status: 'ok', verified: head };
  }
}
