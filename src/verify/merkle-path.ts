/**
 * RFC 6962 inclusion paths built from perfect subtrees (pure): PATH(m, D[0:n)) of RFC 6962 §2.1.1, with
 * every node it needs expressed as hashes of perfect subtrees (entries [start, start + 2^height), start
 * a multiple of 2^height). Where those hashes come from is the caller's: the fake log hashes its leaves,
 * the static-ct-api follower reads them from the log's hash tiles (a subtree of height 8L + j is the root
 * of 2^j consecutive hashes of a level-L tile). The path is then checked against a signed root with
 * verifyInclusion (inclusion-proof.ts): hashes from an unauthenticated source prove nothing until then.
 */
import { hashChildren } from './merkle-hash.js';

/** A perfect subtree: entries [start, start + 2^height). */
export interface Subtree {
  start: number;
  height: number;
}

/** Largest power of two strictly below n (n ≥ 2). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** MTH(D[start, start + n)) from perfect subtrees. */
function treeHash(start: number, n: number, subtree: (s: Subtree) => Uint8Array): Uint8Array {
  // Math.log2 is exact on powers of two (indexes go past 2^32: no bit operators).
  const height = Math.log2(n);
  if (Number.isInteger(height) && start % n === 0) return subtree({ start, height });
  const k = splitPoint(n);
  return hashChildren(treeHash(start, k, subtree), treeHash(start + k, n - k, subtree));
}

/**
 * The audit path of entry `index` in the tree of `size` entries (RFC 6962 PATH), leaf side first.
 * @throws RangeError on an index outside the tree
 */
export function inclusionPath(index: number, size: number, subtree: (s: Subtree) => Uint8Array): Buffer[] {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) {
    throw new RangeError(`entry ${index} is not in a tree of ${size}`);
  }
  const path: Buffer[] = [];
  let start = 0;
  let n = size;
  let m = index;
  while (n > 1) {
    const k = splitPoint(n);
    if (m < k) {
      path.push(Buffer.from(treeHash(start + k, n - k, subtree)));
      n = k;
    } else {
      path.push(Buffer.from(treeHash(start, k, subtree)));
      start += k;
      m -= k;
      n -= k;
    }
  }
  return path.reverse();
}

/** The perfect subtrees inclusionPath(index, size) reads, in the order it reads them (to fetch them first). */
export function inclusionPathSubtrees(index: number, size: number): Subtree[] {
  const out: Subtree[] = [];
  const placeholder = Buffer.alloc(32);
  inclusionPath(index, size, (s) => (out.push(s), placeholder));
  return out;
}
