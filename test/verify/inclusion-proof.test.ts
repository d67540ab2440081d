import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isCertstreamError } from '../../src/errors.js';
import { CompactRange } from '../../src/verify/compact-range.js';
import { rangeFromInclusionProof, verifyInclusion } from '../../src/verify/inclusion-proof.js';
import { hashChildren, hashLeaf } from '../../src/verify/merkle-hash.js';
import { flip } from './fixtures.js';

/** RFC 6962 §2.1.1 MTH and PATH, written straight from the definitions (k = largest power of two < n). */
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}
function mth(h: readonly Buffer[]): Buffer {
  if (h.length === 1) return h[0];
  const k = split(h.length);
  return hashChildren(mth(h.slice(0, k)), mth(h.slice(k)));
}
function path(m: number, h: readonly Buffer[]): Buffer[] {
  if (h.length === 1) return [];
  const k = split(h.length);
  return m < k ? [...path(m, h.slice(0, k)), mth(h.slice(k))] : [...path(m - k, h.slice(k)), mth(h.slice(0, k))];
}

const leaves = Array.from({ length: 70 }, (_, i) => hashLeaf(Buffer.from(`entry ${i}`)));

test('every leaf of every tree size 1..70: the RFC 6962 path verifies, and its left siblings are the compact range', () => {
  for (let n = 1; n <= 70; n++) {
    const tree = leaves.slice(0, n);
    const root = mth(tree);
    for (let m = 0; m < n; m++) {
      const left = verifyInclusion(m, n, tree[m], path(m, tree), root);
      const expected = new CompactRange();
      expected.appendFrom(0, tree.slice(0, m));
      assert.deepEqual(left.map((b) => b.toString('base64')), expected.toJSON().hashes, `leaf ${m} of ${n}`);
      const next = rangeFromInclusionProof(m, n, tree[m], path(m, tree), root);
      assert.equal(next.size, m + 1);
      expected.append(tree[m]);
      assert.deepEqual(next.root(), expected.root());
    }
  }
});

test('a wrong leaf, index, size, proof hash, proof length or root is VERIFY_ERR_ROOT_MISMATCH', () => {
  const tree = leaves.slice(0, 45);
  const root = mth(tree);
  const p = path(20, tree);
  const fails: [string, () => unknown][] = [
    ['leaf', () => verifyInclusion(20, 45, flip(tree[20], 0), p, root)],
    ['index', () => verifyInclusion(21, 45, tree[20], p, root)],
    // (A size whose path has the same shape, 33..64 here, computes the same: the signed root binds the size.)
    ['size 32', () => verifyInclusion(20, 32, tree[20], p, root)],
    ['size 200', () => verifyInclusion(20, 200, tree[20], p, root)],
    ['proof hash', () => verifyInclusion(20, 45, tree[20], [p[0], flip(p[1], 5), ...p.slice(2)], root)],
    ['proof too short', () => verifyInclusion(20, 45, tree[20], p.slice(1), root)],
    ['proof too long', () => verifyInclusion(20, 45, tree[20], [...p, p[0]], root)],
    ['root', () => verifyInclusion(20, 45, tree[20], p, flip(root, 31))],
    ['short hash', () => verifyInclusion(20, 45, tree[20], [p[0].subarray(1), ...p.slice(1)], root)],
  ];
  for (const [label, fn] of fails) assert.throws(fn, (err: unknown) => isCertstreamError(err, 'VERIFY_ERR_ROOT_MISMATCH'), label);
  assert.throws(() => verifyInclusion(45, 45, tree[0], p, root), RangeError);
});
