import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { X509Certificate, createHash } from 'node:crypto';
import { parseTileLeaves, readLeafIndex, type TileLeaf } from '../../src/ct/tile-leaf.js';
import { isCertstreamError } from '../../src/errors.js';
import { xorshift32 } from '../support/prng.js';

const fixtures = fileURLToPath(new URL('../fixtures/', import.meta.url));
const navigli = fixtures + 'static-ct/navigli2025h2/';
const tile000 = readFileSync(navigli + 'tile/data/000');
const tile003p10 = readFileSync(navigli + 'tile/data/003.p/10');
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest();

function assertBadTile(fn: () => unknown, pattern?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isCertstreamError(err, 'CT_ERR_BAD_TILE'), `expected CT_ERR_BAD_TILE, got ${String(err)}`);
    if (pattern) assert.match(err.message, pattern);
    return true;
  });
}

/** uint N big-endian (N ≤ 8). */
function be(value: number, bytes: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(value));
  return b.subarray(8 - bytes);
}

/** A leaf_index CtExtensions body (type 0, length 5, uint40). */
const leafIndexExt = (i: number) => Buffer.concat([Buffer.from([0]), be(5, 2), be(i, 5)]);

/** Encodes an x509 TileLeaf (the fixtures only hold precerts). */
function x509TileLeaf(ts: number, cert: Buffer, extensions: Buffer, fps: Buffer[]): Buffer {
  const fp = Buffer.concat(fps);
  return Buffer.concat([be(ts, 8), be(0, 2), be(cert.length, 3), cert, be(extensions.length, 2), extensions, be(fp.length, 2), fp]);
}

const keyHashes = new Map<string, Buffer>();
/** SHA-256 of the SPKI of the issuer file named by `fp`. */
function issuerKeyHash(fp: string): Buffer {
  let h = keyHashes.get(fp);
  if (!h) {
    const issuer = new X509Certificate(readFileSync(navigli + 'issuer/' + fp));
    h = sha256(issuer.publicKey.export({ type: 'spki', format: 'der' }));
    keyHashes.set(fp, h);
  }
  return h;
}

/**
 * Rebuilds the RFC 6962 MerkleTreeLeaf of a precert TileLeaf. The issuer_key_hash is not returned by the
 * decoder, so it is recomputed from the issuer file the chain names: when the level-0 hash matches, both
 * the decoding and the issuer fingerprint are right.
 */
function precertLeafHash(leaf: TileLeaf): Buffer {
  assert.equal(leaf.type, 'precert');
  assert.ok(leaf.tbs);
  const ikh = issuerKeyHash(leaf.chain[0]);
  const mtl = Buffer.concat([
    Buffer.from([0, 0]),
    be(leaf.timestamp, 8),
    be(1, 2),
    ikh,
    be(leaf.tbs.length, 3),
    leaf.tbs,
    be(leaf.extensions.length, 2),
    leaf.extensions,
  ]);
  return sha256(Buffer.concat([Buffer.from([0]), mtl]));
}

test('data tile 000: 256 precert entries with leaf_index 0..255, two chain fingerprints each', () => {
  const leaves = parseTileLeaves(tile000, 0);
  assert.equal(leaves.length, 256);
  leaves.forEach((l, i) => {
    assert.equal(l.leafIndex, i);
    assert.equal(l.type, 'precert');
    assert.equal(l.chain.length, 2);
    assert.ok(l.chain.every((fp) => /^[0-9a-f]{64}$/.test(fp)));
  });
  // Same result without the index check.
  assert.equal(parseTileLeaves(tile000).length, 256);
});

test('data tile 000: entry 0 is the DERIVED LE-staging precert; every cert parses and carries the CT poison', () => {
  const leaves = parseTileLeaves(tile000, 0);
  assert.deepEqual(Buffer.from(leaves[0].cert), readFileSync(fixtures + 'certs/precert_le-staging_8-sans.der'));
  const poison = Buffer.from('060a2b06010401d679020403', 'hex');
  for (const l of leaves) {
    const cert = new X509Certificate(l.cert);
    assert.match(cert.issuer, /\(STAGING\)/);
    assert.ok(Buffer.from(l.cert).includes(poison));
    assert.ok(l.tbs && !Buffer.from(l.tbs).includes(poison));
  }
});

test('timestamps match the names tile, and leaf hashes match the level-0 hash tile (tile 000)', () => {
  const leaves = parseTileLeaves(tile000, 0);
  const names = readFileSync(navigli + 'tile/names/000', 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { Timestamp: number });
  assert.equal(names.length, 256);
  leaves.forEach((l, i) => assert.equal(l.timestamp, names[i].Timestamp, `timestamp of ${i}`));
  const hashes = readFileSync(navigli + 'tile/0/000');
  leaves.forEach((l, i) => assert.deepEqual(precertLeafHash(l), hashes.subarray(32 * i, 32 * i + 32), `hash of ${i}`));
});

test('partial tile 003.p/10: 10 entries, leaf_index 768..777, hashes match 0/003.p/10', () => {
  const leaves = parseTileLeaves(tile003p10, 768);
  assert.equal(leaves.length, 10);
  assert.deepEqual(leaves.map((l) => l.leafIndex), [768, 769, 770, 771, 772, 773, 774, 775, 776, 777]);
  const hashes = readFileSync(navigli + 'tile/0/003.p/10');
  assert.equal(hashes.length, 320);
  leaves.forEach((l, i) => assert.deepEqual(precertLeafHash(l), hashes.subarray(32 * i, 32 * i + 32)));
  const names = readFileSync(navigli + 'tile/names/003.p/10', 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { Timestamp: number });
  assert.deepEqual(leaves.map((l) => l.timestamp), names.map((n) => n.Timestamp));
});

test('chain fingerprints resolve to issuer files whose SHA-256 equals their name', () => {
  const used = new Set<string>();
  for (const l of [...parseTileLeaves(tile000, 0), ...parseTileLeaves(tile003p10, 768)]) l.chain.forEach((fp) => used.add(fp));
  const files = readdirSync(navigli + 'issuer');
  for (const fp of used) assert.ok(files.includes(fp), `no issuer file for ${fp}`);
  for (const name of files) {
    const der = readFileSync(navigli + 'issuer/' + name);
    assert.equal(sha256(der).toString('hex'), name);
    assert.match(new X509Certificate(der).subject, /\(STAGING\)/);
  }
  // chain[0] issued every leaf, chain[1] issued chain[0].
  for (const l of parseTileLeaves(tile003p10, 768)) {
    const [a, b] = l.chain.map((fp) => new X509Certificate(readFileSync(navigli + 'issuer/' + fp)));
    assert.ok(new X509Certificate(l.cert).checkIssued(a));
    assert.ok(a.checkIssued(b));
  }
});

test('wrong firstIndex → CT_ERR_BAD_TILE naming the leaf_index and position', () => {
  assertBadTile(() => parseTileLeaves(tile000, 1), /leaf_index 0 at position 1/);
  assertBadTile(() => parseTileLeaves(tile000, 256), /entry 0/);
  assertBadTile(() => parseTileLeaves(tile003p10, 0), /leaf_index 768 at position 0/);
  assertBadTile(() => parseTileLeaves(tile003p10, 769));
  // Entries swapped inside the tile: the check is per position, not just the first.
  const leaves = parseTileLeaves(tile003p10, 768);
  const sizes: number[] = [];
  let off = 0;
  for (let i = 0; i < leaves.length; i++) {
    const next = i + 1 < leaves.length ? findEntryEnd(tile003p10, off) : tile003p10.length;
    sizes.push(next - off);
    off = next;
  }
  const e0 = tile003p10.subarray(0, sizes[0]);
  const e1 = tile003p10.subarray(sizes[0], sizes[0] + sizes[1]);
  const swapped = Buffer.concat([e1, e0, tile003p10.subarray(sizes[0] + sizes[1])]);
  assertBadTile(() => parseTileLeaves(swapped, 768), /leaf_index 769 at position 768/);
});

/** Offset just past the TileLeaf starting at `off` (walks the precert layout). */
function findEntryEnd(buf: Buffer, off: number): number {
  let p = off + 8 + 2 + 32;
  p += 3 + buf.readUIntBE(p, 3);
  p += 2 + buf.readUInt16BE(p);
  p += 3 + buf.readUIntBE(p, 3);
  p += 2 + buf.readUInt16BE(p);
  return p;
}

test('truncation anywhere inside an entry → CT_ERR_BAD_TILE; a cut at an entry boundary is a shorter valid tile', () => {
  const boundaries = new Set<number>([0]);
  for (let off = 0; off < tile003p10.length; ) {
    off = findEntryEnd(tile003p10, off);
    boundaries.add(off);
  }
  assert.ok(boundaries.has(tile003p10.length));
  assert.equal(boundaries.size, 11);
  const sorted = [...boundaries].sort((a, b) => a - b);
  for (let n = 1; n < tile003p10.length; n++) {
    const cut = tile003p10.subarray(0, n);
    if (boundaries.has(n)) {
      // No framing: the caller must compare the count with the tile width it asked for.
      assert.equal(parseTileLeaves(cut, 768).length, sorted.indexOf(n));
    } else if (n % 13 === 0 || n < 300 || tile003p10.length - n < 300) {
      assertBadTile(() => parseTileLeaves(cut, 768), /bad data tile entry \d+ \(byte \d+\)/);
    }
  }
  assert.deepEqual(parseTileLeaves(new Uint8Array(0), 0), []);
});

test('unknown entry_type, bad fingerprint length, malformed leaf_index extension → CT_ERR_BAD_TILE', () => {
  const t = Buffer.from(tile003p10);
  t.writeUInt16BE(2, 8);
  assertBadTile(() => parseTileLeaves(t), /unknown entry_type 2/);

  const cert = readFileSync(fixtures + 'certs/le-r12-rsa_northkclaw.com.der');
  const fp = sha256(cert);
  assertBadTile(() => parseTileLeaves(x509TileLeaf(1, cert, leafIndexExt(0), [fp.subarray(0, 31)])), /not a multiple of 32/);
  const badExt = Buffer.concat([Buffer.from([0]), be(4, 2), be(0, 4)]);
  assertBadTile(() => parseTileLeaves(x509TileLeaf(1, cert, badExt, [fp])), /leaf_index extension of 4 bytes/);
  assertBadTile(() => parseTileLeaves(x509TileLeaf(1, Buffer.alloc(0), leafIndexExt(0), [fp])), /empty certificate/);
  // Without a leaf_index extension the entry cannot be checked against its position.
  assertBadTile(() => parseTileLeaves(x509TileLeaf(1, cert, Buffer.alloc(0), [fp]), 0), /leaf_index null/);
});

test('x509 TileLeaf entries decode (cert, no tbs, chain fingerprints, leaf_index)', () => {
  const cert = readFileSync(fixtures + 'certs/le-r12-rsa_northkclaw.com.der');
  const fps = [sha256(Buffer.from('issuer')), sha256(Buffer.from('root'))];
  // Another extension type before leaf_index is skipped.
  const ext = Buffer.concat([Buffer.from([7]), be(2, 2), Buffer.from([1, 2]), leafIndexExt(2 ** 40 - 1)]);
  const body = Buffer.concat([x509TileLeaf(1779302087581, cert, leafIndexExt(41), fps), x509TileLeaf(5, cert, leafIndexExt(42), [])]);
  const leaves = parseTileLeaves(body, 41);
  assert.equal(leaves.length, 2);
  assert.equal(leaves[0].type, 'x509');
  assert.equal(leaves[0].timestamp, 1779302087581);
  assert.deepEqual(Buffer.from(leaves[0].cert), cert);
  assert.equal(leaves[0].tbs, undefined);
  assert.deepEqual(leaves[0].chain, fps.map((f) => f.toString('hex')));
  assert.deepEqual(leaves[1].chain, []);
  assert.equal(readLeafIndex(ext), 2 ** 40 - 1);
  assert.equal(readLeafIndex(new Uint8Array(0)), null);
  assert.equal(readLeafIndex(Uint8Array.from([3, 0, 0])), null);
});

test('random byte corruption of a real tile either decodes or throws CT_ERR_BAD_TILE, nothing else', () => {
  const rnd = xorshift32(0x2545f491);
  let rejected = 0;
  for (let i = 0; i < 300; i++) {
    const t = Buffer.from(tile003p10);
    for (let k = 0; k < 1 + (i % 4); k++) t[rnd() % t.length] = rnd() & 0xff;
    try {
      parseTileLeaves(t, 768);
    } catch (err) {
      assert.ok(isCertstreamError(err, 'CT_ERR_BAD_TILE'), `sample ${i}: ${String(err)}`);
      rejected++;
    }
  }
  // Most flips land in DER bodies, which the tile framing cannot see; the ones in lengths must be caught.
  assert.ok(rejected > 0);
  for (let i = 0; i < 200; i++) {
    const junk = Buffer.alloc(rnd() % 300);
    for (let j = 0; j < junk.length; j++) junk[j] = rnd() & 0xff;
    assertBadTile(() => parseTileLeaves(junk.length === 0 ? Buffer.from([1]) : junk, 0));
  }
});
