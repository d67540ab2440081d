import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseTileLeaves, parseTileLeavesWithSpans } from '../../src/ct/tile-leaf.js';
import { CompactRange } from '../../src/verify/compact-range.js';
import { rfc6962LeafHash, tileLeafHashes, timestampedEntryLeafHash } from '../../src/verify/leaf-hash.js';
import { EMPTY_ROOT, hashChildren, hashLeaf } from '../../src/verify/merkle-hash.js';
import { fixtures, flip } from './fixtures.js';

const navigli = fixtures + 'static-ct/navigli2025h2/tile/';
const sha = (...parts: Uint8Array[]) => parts.reduce((h, p) => h.update(p), createHash('sha256')).digest();

/** RFC 6962 §2.1 MTH, written straight from its definition (k = largest power of two < n). */
function mth(leaves: readonly Uint8Array[]): Buffer {
  if (leaves.length === 0) return sha();
  if (leaves.length === 1) return sha(Buffer.from([0]), leaves[0]);
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return sha(Buffer.from([1]), mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}

/** The same over leaf hashes instead of leaf data. */
function mthOfHashes(hashes: readonly Uint8Array[]): Buffer {
  if (hashes.length === 0) return sha();
  if (hashes.length === 1) return Buffer.from(hashes[0]);
  let k = 1;
  while (k * 2 < hashes.length) k *= 2;
  return sha(Buffer.from([1]), mthOfHashes(hashes.slice(0, k)), mthOfHashes(hashes.slice(k)));
}

// RFC 6962 reference tree (the leaves and roots used by transparency-dev/merkle testonly/constants.go
// and google/certificate-transparency's merkle tree tests).
const REF_LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map((h) => Buffer.from(h, 'hex'));
const REF_ROOTS = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];

test('RFC 6962 reference roots for sizes 0..8, from the compact range and from the recursive definition', () => {
  const range = new CompactRange();
  assert.equal(range.root().toString('hex'), REF_ROOTS[0]);
  assert.deepEqual(EMPTY_ROOT, sha());
  for (let n = 1; n <= 8; n++) {
    range.append(hashLeaf(REF_LEAVES[n - 1]));
    assert.equal(range.size, n);
    assert.equal(range.root().toString('hex'), REF_ROOTS[n], `compact range, size ${n}`);
    assert.equal(mth(REF_LEAVES.slice(0, n)).toString('hex'), REF_ROOTS[n], `recursive MTH, size ${n}`);
  }
  assert.deepEqual(hashChildren(hashLeaf(REF_LEAVES[0]), hashLeaf(REF_LEAVES[1])).toString('hex'), REF_ROOTS[2]);
});

test('compact range root equals the recursive MTH at every size 1..300, with one hash per set bit', () => {
  const leaves = Array.from({ length: 300 }, (_, i) => Buffer.from(`leaf ${i}`));
  const hashes = leaves.map((l) => hashLeaf(l));
  const range = new CompactRange();
  for (let n = 1; n <= 300; n++) {
    range.append(hashes[n - 1]);
    assert.deepEqual(range.root(), mth(leaves.slice(0, n)), `size ${n}`);
    assert.equal(range.toJSON().hashes.length, n.toString(2).replace(/0/g, '').length, `hashes at ${n}`);
  }
  // A changed leaf anywhere changes the root.
  for (const at of [0, 1, 150, 255, 256, 299]) {
    const r = new CompactRange();
    hashes.forEach((h, i) => r.append(i === at ? flip(h, 0) : h));
    assert.notDeepEqual(r.root(), range.root(), `leaf ${at}`);
  }
});

test('Navigli data tiles hash to their real level-0 hash tiles (000: 256 leaves, 003.p/10: 10 leaves)', () => {
  for (const [data, level0, first] of [
    ['data/000', '0/000', 0],
    ['data/003.p/10', '0/003.p/10', 768],
  ] as const) {
    const tile = readFileSync(navigli + data);
    const expected = readFileSync(navigli + level0);
    const hashes = tileLeafHashes(tile, first);
    assert.equal(hashes.length * 32, expected.length, data);
    hashes.forEach((h, i) => assert.deepEqual(h, expected.subarray(32 * i, 32 * i + 32), `${data} leaf ${i}`));
  }
});

test('a flipped bit in a tile entry changes that leaf hash only; fields outside the MerkleTreeLeaf do not count', () => {
  const tile = readFileSync(navigli + 'data/000');
  const expected = readFileSync(navigli + '0/000');
  const leaves = parseTileLeaves(tile, 0);
  // Entry 5's TBS (in the MerkleTreeLeaf): find its bytes and flip one.
  const tbsAt = tile.indexOf(Buffer.from(leaves[5].tbs!));
  const changed = tileLeafHashes(flip(tile, tbsAt + 40), 0);
  changed.forEach((h, i) => assert.equal(h.equals(expected.subarray(32 * i, 32 * i + 32)), i !== 5, `leaf ${i}`));
  // Its pre_certificate is not part of the leaf (static-ct-api: TileLeaf adds it after the TimestampedEntry).
  const preAt = tile.indexOf(Buffer.from(leaves[5].cert));
  assert.deepEqual(tileLeafHashes(flip(tile, preAt + 40), 0)[5], expected.subarray(160, 192));
});

test('the same leaf hash from a get-entries leaf_input (MerkleTreeLeaf) and from the TimestampedEntry', () => {
  const tile = readFileSync(navigli + 'data/000');
  const expected = readFileSync(navigli + '0/000');
  // A tile's entry as an RFC 6962 log would serve it: leaf_input = v1 || timestamped_entry || TimestampedEntry.
  const { spans } = parseTileLeavesWithSpans(tile, 0);
  const asLeafInput = Buffer.concat([Buffer.from([0, 0]), tile.subarray(spans[3].start, spans[3].end)]);
  assert.deepEqual(rfc6962LeafHash(asLeafInput), expected.subarray(96, 128));
  const entries = JSON.parse(readFileSync(fixtures + 'rfc6962/get-entries_argon2025h2_1-precert_google.com.json', 'utf8')) as { entries: { leaf_input: string }[] };
  const leafInput = Buffer.from(entries.entries[0].leaf_input, 'base64');
  assert.deepEqual(rfc6962LeafHash(leafInput), sha(Buffer.from([0]), leafInput));
  assert.deepEqual(rfc6962LeafHash(leafInput), timestampedEntryLeafHash(leafInput.subarray(2)));
  assert.notDeepEqual(rfc6962LeafHash(flip(leafInput, 100)), rfc6962LeafHash(leafInput));
});

test('the real Navigli leaves (level-0 tiles 000-003: 1024 hashes) give the recursive root at many sizes', () => {
  const all = Buffer.concat(['0/000', '0/001', '0/002', '0/003'].map((p) => readFileSync(navigli + p)));
  // The partial tile 003.p/10 is the first 10 hashes of the full tile 003, as the spec requires.
  assert.deepEqual(readFileSync(navigli + '0/003.p/10'), all.subarray(768 * 32, 778 * 32));
  const hashes = Array.from({ length: all.length / 32 }, (_, i) => all.subarray(32 * i, 32 * i + 32));
  assert.equal(hashes.length, 1024);
  const range = new CompactRange();
  hashes.forEach((h, i) => {
    range.append(h);
    const n = i + 1;
    if (n % 97 === 0 || n % 256 === 0 || n === 778) assert.deepEqual(range.root(), mthOfHashes(hashes.slice(0, n)), `size ${n}`);
  });
  // The roots test/fixtures/SOURCES.md records for these leaves (computed independently when the
  // fixtures were checked).
  const at = (n: number) => mthOfHashes(hashes.slice(0, n)).toString('base64');
  assert.equal(at(778), '+WnHOMRZl/LG1669oeskbdK9bcO4nkrY1cfVyknC52U=');
  assert.equal(range.root().toString('base64'), 'EMfGG85uIddeOXt5/wdQGP3IQd0COCqoLg9Q6CsPLJA=');
  // Level 1 of a tiled log: the hash of a full level-0 tile is the MTH of its 256 hashes.
  const tile0 = new CompactRange();
  hashes.slice(0, 256).forEach((h) => tile0.append(h));
  assert.equal(tile0.toJSON().hashes.length, 1);
  assert.deepEqual(tile0.root(), mthOfHashes(hashes.slice(0, 256)));
});

test('leaf hashes of large entries (past the 64 KiB scratch buffer) and of entries of every size around it', () => {
  // A CT entry may hold a certificate of up to 128 KiB; the hashing switches strategy at 64 KiB.
  for (const n of [0, 1, 65_534, 65_535, 65_536, 65_537, 200_000]) {
    const data = Buffer.alloc(n, n % 251);
    assert.deepEqual(hashLeaf(data), sha(Buffer.from([0]), data), `hashLeaf of ${n} bytes`);
    assert.deepEqual(rfc6962LeafHash(data), sha(Buffer.from([0]), data), `rfc6962LeafHash of ${n} bytes`);
    assert.deepEqual(timestampedEntryLeafHash(data), sha(Buffer.from([0, 0, 0]), data), `timestampedEntryLeafHash of ${n} bytes`);
  }
  // A small hash after a large one: nothing of the large one's prefix or bytes is left behind.
  assert.deepEqual(hashLeaf(Buffer.from('ab')), sha(Buffer.from([0]), Buffer.from('ab')));
});
