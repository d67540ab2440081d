import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isCertstreamError } from '../../src/errors.js';
import { CompactRange, popCount, type CompactRangeState } from '../../src/verify/compact-range.js';
import { hashChildren, hashLeaf } from '../../src/verify/merkle-hash.js';
import { flip } from './fixtures.js';

const leaf = (i: number) => hashLeaf(Buffer.from(`entry ${i}`));

function grown(n: number): CompactRange {
  const r = new CompactRange();
  for (let i = 0; i < n; i++) r.append(leaf(i));
  return r;
}

test('a saved range continues exactly where it stopped (JSON round trip at every size 0..70)', () => {
  const whole = grown(140);
  for (let n = 0; n <= 70; n++) {
    const saved = JSON.parse(JSON.stringify(grown(n))) as CompactRangeState;
    assert.equal(saved.size, n);
    const resumed = CompactRange.fromJSON(saved);
    for (let i = n; i < 140; i++) resumed.append(leaf(i));
    assert.deepEqual(resumed.root(), whole.root(), `resumed at ${n}`);
  }
});

test('appendFrom skips entries already hashed and refuses a gap', () => {
  const r = grown(10);
  r.appendFrom(8, [leaf(8), leaf(9), leaf(10), leaf(11)]);
  assert.equal(r.size, 12);
  assert.deepEqual(r.root(), grown(12).root());
  assert.throws(() => r.appendFrom(13, [leaf(13)]), RangeError);
  assert.throws(() => r.appendFrom(-1, []), RangeError);
  assert.throws(() => r.append(Buffer.alloc(31)), RangeError);
  assert.equal(r.size, 12);
});

test('clone is independent', () => {
  const a = grown(5);
  const b = a.clone();
  b.append(leaf(5));
  assert.equal(a.size, 5);
  assert.deepEqual(a.root(), grown(5).root());
  assert.deepEqual(b.root(), grown(6).root());
});

test('sizes beyond 2^32: appending to 2^33 - 1 merges 33 subtrees into one (no 32-bit arithmetic)', () => {
  const size = 2 ** 33 - 1;
  const hashes = Array.from({ length: 33 }, (_, i) => leaf(1000 + i));
  let root = hashes[32];
  for (let i = 31; i >= 0; i--) root = hashChildren(hashes[i], root);
  const state = { size, hashes: hashes.map((h) => h.toString('base64')), root: root.toString('base64') };
  const r = CompactRange.fromJSON(state);
  assert.deepEqual(r.root(), root);
  const extra = leaf(5);
  r.append(extra);
  let merged = extra;
  for (let i = 32; i >= 0; i--) merged = hashChildren(hashes[i], merged);
  assert.equal(r.size, 2 ** 33);
  assert.deepEqual(r.toJSON().hashes, [merged.toString('base64')]);
  assert.equal(popCount(2 ** 40 + 2 ** 35 + 3), 4);
});

test('a damaged or foreign saved state is STATE_ERR_CORRUPT, never trusted', () => {
  const good = grown(13).toJSON(); // 13 = 0b1101: 3 hashes
  const hash0 = Buffer.from(good.hashes[0], 'base64');
  const bads: [string, unknown][] = [
    ['null', null],
    ['array', []],
    ['size as string', { ...good, size: '13' }],
    ['negative size', { ...good, size: -1 }],
    ['fractional size', { ...good, size: 12.5 }],
    ['size too large', { ...good, size: 2 ** 53 }],
    ['size with fewer set bits than hashes', { ...good, size: 12 }],
    ['a hash missing', { ...good, hashes: good.hashes.slice(1) }],
    ['a hash flipped', { ...good, hashes: [flip(hash0, 3).toString('base64'), ...good.hashes.slice(1)] }],
    ['a short hash', { ...good, hashes: ['AAAA', ...good.hashes.slice(1)] }],
    ['root flipped', { ...good, root: flip(Buffer.from(good.root, 'base64'), 0).toString('base64') }],
    ['root missing', { size: good.size, hashes: good.hashes }],
    ['unknown field', { ...good, extra: 1 }],
  ];
  for (const [label, state] of bads) {
    assert.throws(() => CompactRange.fromJSON(state, 'cursor of log X'), (err: unknown) => {
      assert.ok(isCertstreamError(err, 'STATE_ERR_CORRUPT'), `${label}: ${String(err)}`);
      assert.match((err as Error).message, /^cursor of log X: /);
      return true;
    }, label);
  }
  assert.deepEqual(CompactRange.fromJSON(good).root(), grown(13).root());
  // 14 has as many set bits as 13, so only the cursor's own position can tell it was damaged.
  assert.throws(() => CompactRange.fromJSON({ ...good, size: 14 }, 'cursor', 13), (err: unknown) => isCertstreamError(err, 'STATE_ERR_CORRUPT'));
  assert.equal(CompactRange.fromJSON(good, 'cursor', 13).size, 13);
});
