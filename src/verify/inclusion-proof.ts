/**
 * RFC 6962 inclusion proofs (pure; the algorithm of RFC 9162 §2.1.3.2), and the compact range they give.
 * The left siblings on a leaf's path are exactly the subtrees [0, index) splits into, one per set bit
 * of the index: so a verified proof for entry N-1 against a signed head, plus entry N-1's leaf hash, is
 * the compact range at N. That is how a log followed from a cursor saved before verification existed
 * (no range in the file) starts verifying without rehashing the log from entry 0: one get-proof-by-hash
 * (RFC 6962) or the same nodes from the hash tiles (static-ct-api).
 */
import { CertstreamError } from '../errors.js';
import { CompactRange } from './compact-range.js';
import { HASH_SIZE, hashChildren } from './merkle-hash.js';

/**
 * Verifies that `leafHash` is entry `leafIndex` of the tree of `treeSize` entries whose root is `root`.
 * @returns the proof's left siblings, largest subtree first: the compact range of [0, leafIndex)
 * @throws CertstreamError VERIFY_ERR_ROOT_MISMATCH when the proof does not lead to the root (or has the
 *   wrong length); RangeError on an index outside the tree
 */
export function verifyInclusion(leafIndex: number, treeSize: number, leafHash: Uint8Array, proof: readonly Uint8Array[], root: Uint8Array): Buffer[] {
  if (!Number.isSafeInteger(treeSize) || !Number.isSafeInteger(leafIndex) || leafIndex < 0 || leafIndex >= treeSize) {
    throw new RangeError(`leaf ${leafIndex} is not in a tree of ${treeSize}`);
  }
  const fail = (why: string) => new CertstreamError('VERIFY_ERR_ROOT_MISMATCH', `inclusion proof of entry ${leafIndex} in tree ${treeSize}: ${why}`);
  if (proof.some((p) => p.length !== HASH_SIZE)) throw fail('a hash is not 32 bytes');
  // Bit arithmetic by division: indexes go past 2^32.
  const odd = (n: number) => n % 2 === 1;
  const half = (n: number) => Math.floor(n / 2);
  let fn = leafIndex;
  let sn = treeSize - 1;
  let r: Buffer = Buffer.from(leafHash);
  const left: Buffer[] = [];
  for (const p of proof) {
    if (sn === 0) throw fail('too long');
    if (odd(fn) || fn === sn) {
      r = hashChildren(p, r);
      left.push(Buffer.from(p));
      if (!odd(fn)) {
        while (!odd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      r = hashChildren(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) throw fail('too short');
  if (!r.equals(Buffer.from(root))) throw fail('does not lead to the signed root');
  return left.reverse();
}

/**
 * The compact range at `leafIndex + 1` from a verified inclusion proof of entry `leafIndex` (whose
 * leaf hash the caller computed from the entry itself) in a signed tree.
 * @throws as verifyInclusion
 */
export function rangeFromInclusionProof(leafIndex: number, treeSize: number, leafHash: Uint8Array, proof: readonly Uint8Array[], root: Uint8Array): CompactRange {
  const range = CompactRange.fromSubtrees(leafIndex, verifyInclusion(leafIndex, treeSize, leafHash, proof, root));
  range.append(leafHash);
  return range;
}
