import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { X509Certificate, createHash } from 'node:crypto';
import { decodeJsonEntry, decodeLogEntry, decodeMerkleTreeLeaf } from '../../src/ct/merkle-leaf.js';
import { isCertstreamError } from '../../src/errors.js';
import { xorshift32 } from '../support/prng.js';

const fixtures = fileURLToPath(new URL('../fixtures/', import.meta.url));

interface LiveEntry {
  log_url: string;
  cert_index: number;
  leaf_input: string;
  extra_data: string;
}

const live = JSON.parse(
  readFileSync(fixtures + 'rfc6962/live-entries_argon2026h2-nimbus2026_40.json', 'utf8'),
) as LiveEntry[];
const argon = JSON.parse(readFileSync(fixtures + 'rfc6962/get-entries_argon2025h2_1-precert_google.com.json', 'utf8')) as {
  entries: Array<{ leaf_input: string; extra_data: string }>;
};

/** DER of the first PEM block of a file. */
function pemDer(path: string): Buffer {
  const m = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(readFileSync(path, 'utf8'));
  assert.ok(m, `no PEM block in ${path}`);
  return Buffer.from(m[1].replace(/\s+/g, ''), 'base64');
}

/** DER of the CT poison extension OID 1.3.6.1.4.1.11129.2.4.3. */
const POISON_OID = Buffer.from('060a2b06010401d679020403', 'hex');

function assertBadLeaf(fn: () => unknown, what: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isCertstreamError(err, 'CT_ERR_BAD_LEAF'), `${what}: expected CT_ERR_BAD_LEAF, got ${String(err)}`);
    return true;
  });
}

test('all 40 live entries decode: 26 x509 and 14 precert, indexes kept, timestamps on 2026-05-20', () => {
  const decoded = live.map((e) => decodeJsonEntry(e.cert_index, e));
  assert.equal(decoded.filter((d) => d.type === 'x509').length, 26);
  assert.equal(decoded.filter((d) => d.type === 'precert').length, 14);
  decoded.forEach((d, i) => assert.equal(d.index, live[i].cert_index));
  const day = (t: number) => new Date(t).toISOString().slice(0, 10);
  assert.ok(decoded.every((d) => day(d.timestamp) === '2026-05-20'));
  // First Argon and first Nimbus entry, exact to the millisecond.
  assert.equal(new Date(decoded[0].timestamp).toISOString(), '2026-05-20T18:48:13.443Z');
  assert.equal(new Date(decoded[20].timestamp).toISOString(), '2026-05-20T17:54:47.570Z');
  // Chain lengths: 7 entries carry intermediate + cross-sign/root (3), the rest 2.
  const threes = decoded.filter((d) => d.chain.length === 3).map((d) => d.index);
  assert.deepEqual(threes, [1111014094, 1111014100, 4354630041, 4354630046, 4354630048, 4354630049, 4354630054]);
  assert.ok(decoded.every((d) => d.chain.length === 2 || d.chain.length === 3));
});

test('every leaf and chain DER parses with X509Certificate; chain[0] issued and signed the leaf', () => {
  for (const e of live) {
    const d = decodeJsonEntry(e.cert_index, e);
    const leaf = new X509Certificate(d.leaf);
    const chain = d.chain.map((c) => new X509Certificate(c));
    assert.ok(leaf.checkIssued(chain[0]), `${e.cert_index}: chain[0] is not the issuer`);
    assert.ok(leaf.verify(chain[0].publicKey), `${e.cert_index}: leaf signature does not verify under chain[0]`);
    // The leaf is the full certificate: it re-encodes to the same bytes.
    assert.deepEqual(Buffer.from(leaf.raw), Buffer.from(d.leaf));
  }
});

test('precert entries: the leaf is the pre_certificate (with poison), issuer_key_hash = SHA-256(SPKI of chain[0])', () => {
  let n = 0;
  for (const e of live) {
    const head = decodeMerkleTreeLeaf(Buffer.from(e.leaf_input, 'base64'));
    const d = decodeJsonEntry(e.cert_index, e);
    assert.equal(head.type, d.type);
    assert.equal(head.timestamp, d.timestamp);
    if (d.type === 'x509') {
      assert.equal(head.issuerKeyHash, undefined);
      assert.deepEqual(head.signedEntry, d.leaf);
      assert.ok(!Buffer.from(d.leaf).includes(POISON_OID));
      continue;
    }
    n++;
    assert.ok(head.issuerKeyHash);
    const spki = new X509Certificate(d.chain[0]).publicKey.export({ type: 'spki', format: 'der' });
    assert.equal(Buffer.from(head.issuerKeyHash).toString('hex'), createHash('sha256').update(spki).digest('hex'));
    assert.ok(Buffer.from(d.leaf).includes(POISON_OID), `${e.cert_index}: pre_certificate without poison`);
    assert.ok(!Buffer.from(head.signedEntry).includes(POISON_OID), `${e.cert_index}: logged TBS still has poison`);
    assert.ok(d.leaf.length > head.signedEntry.length);
  }
  assert.equal(n, 14);
});

test('the DERIVED northkclaw.com DER equals the x509 leaf of entry 4354630045', () => {
  const e = live.find((x) => x.cert_index === 4354630045);
  assert.ok(e);
  const d = decodeJsonEntry(e.cert_index, e);
  assert.equal(d.type, 'x509');
  assert.deepEqual(Buffer.from(d.leaf), readFileSync(fixtures + 'certs/le-r12-rsa_northkclaw.com.der'));
  assert.match(new X509Certificate(d.leaf).subject, /CN=northkclaw\.com/);
});

test('Argon2025h2 get-entries body: one *.google.com precert, its pre_certificate equals the PEM fixture', () => {
  assert.equal(argon.entries.length, 1);
  const d = decodeJsonEntry(7, argon.entries[0]);
  assert.equal(d.index, 7);
  assert.equal(d.type, 'precert');
  assert.equal(new Date(d.timestamp).toISOString(), '2025-06-02T09:35:33.195Z');
  assert.equal(d.chain.length, 3);
  assert.deepEqual(Buffer.from(d.leaf), pemDer(fixtures + 'certs/precert_gts-wr2_google.com.pem'));
  const cert = new X509Certificate(d.leaf);
  assert.match(cert.subject, /CN=\*\.google\.com/);
  assert.match(cert.issuer, /CN=WR2/);
});

test('every truncation of leaf_input and extra_data is CT_ERR_BAD_LEAF (never a RangeError)', () => {
  // Every cut of one x509 and one precert entry, a few cuts of all the others.
  const x509 = live.find((e) => decodeJsonEntry(e.cert_index, e).type === 'x509');
  const pre = live.find((e) => decodeJsonEntry(e.cert_index, e).type === 'precert');
  assert.ok(x509 && pre);
  for (const e of live) {
    const leaf = Buffer.from(e.leaf_input, 'base64');
    const extra = Buffer.from(e.extra_data, 'base64');
    const every = e === x509 || e === pre;
    const cuts = (len: number) =>
      every ? Array.from({ length: len }, (_, i) => i) : [0, 1, 2, 11, 12, 13, 14, 15, 47, len >> 1, len - 3, len - 1];
    for (const n of cuts(leaf.length)) {
      assertBadLeaf(() => decodeLogEntry(e.cert_index, leaf.subarray(0, n), extra), `leaf_input cut at ${n}`);
    }
    for (const n of cuts(extra.length)) {
      assertBadLeaf(() => decodeLogEntry(e.cert_index, leaf, extra.subarray(0, n)), `extra_data cut at ${n}`);
    }
  }
});

test('corrupted leaves: trailing bytes, unknown version / leaf_type / entry_type, bad lengths → CT_ERR_BAD_LEAF', () => {
  const e = live[1]; // x509
  const leaf = Buffer.from(e.leaf_input, 'base64');
  const extra = Buffer.from(e.extra_data, 'base64');
  const mutate = (buf: Buffer, f: (b: Buffer) => void) => {
    const c = Buffer.from(buf);
    f(c);
    return c;
  };
  assertBadLeaf(() => decodeLogEntry(0, Buffer.concat([leaf, Buffer.from([0])]), extra), 'trailing leaf byte');
  assertBadLeaf(() => decodeLogEntry(0, leaf, Buffer.concat([extra, Buffer.from([0])])), 'trailing extra byte');
  assertBadLeaf(() => decodeMerkleTreeLeaf(mutate(leaf, (b) => (b[0] = 1))), 'version 1');
  assertBadLeaf(() => decodeMerkleTreeLeaf(mutate(leaf, (b) => (b[1] = 1))), 'leaf_type 1');
  assertBadLeaf(() => decodeMerkleTreeLeaf(mutate(leaf, (b) => (b[11] = 2))), 'entry_type 2');
  // Certificate length (uint24 at offset 12) one too large / one too small.
  const len = leaf.readUIntBE(12, 3);
  assertBadLeaf(() => decodeMerkleTreeLeaf(mutate(leaf, (b) => b.writeUIntBE(len + 1, 12, 3))), 'length + 1');
  assertBadLeaf(() => decodeMerkleTreeLeaf(mutate(leaf, (b) => b.writeUIntBE(len - 1, 12, 3))), 'length - 1');
  // An empty certificate is not a certificate.
  const empty = Buffer.concat([leaf.subarray(0, 12), Buffer.from([0, 0, 0, 0, 0])]);
  assertBadLeaf(() => decodeMerkleTreeLeaf(empty), 'empty cert');
  // A chain element of length 0.
  const badChain = Buffer.from([0, 0, 3, 0, 0, 0]);
  assertBadLeaf(() => decodeLogEntry(0, leaf, badChain), 'empty chain cert');
  // An x509 entry with an empty chain is well-formed (a self-signed root submitted alone).
  assert.deepEqual(decodeLogEntry(0, leaf, Buffer.from([0, 0, 0])).chain, []);
  // A precert with an empty pre_certificate.
  const p = live[0];
  assertBadLeaf(
    () => decodeLogEntry(0, Buffer.from(p.leaf_input, 'base64'), Buffer.from([0, 0, 0, 0, 0, 0])),
    'empty pre_certificate',
  );
});

test('garbage input never escapes as anything but CT_ERR_BAD_LEAF', () => {
  const rnd = xorshift32(0x9e3779b9);
  let thrown = 0;
  for (let i = 0; i < 500; i++) {
    const len = rnd() % 200;
    const bytes = Buffer.alloc(len);
    for (let j = 0; j < len; j++) bytes[j] = rnd() & 0xff;
    // Half of the samples get a valid header so the decoder goes deeper.
    if (i % 2 === 0 && len > 12) bytes.fill(0, 0, 2).writeUInt16BE(rnd() % 2, 10);
    try {
      decodeLogEntry(i, bytes, bytes.subarray(len >> 1));
    } catch (err) {
      assert.ok(isCertstreamError(err, 'CT_ERR_BAD_LEAF'), `sample ${i}: ${String(err)}`);
      thrown++;
    }
  }
  assert.equal(thrown, 500);
});

test('decodeJsonEntry: missing or non-string fields → CT_ERR_BAD_LEAF naming the index', () => {
  for (const item of [null, undefined, 42, {}, { leaf_input: 'AAAA' }, { extra_data: 'AAAA' }, { leaf_input: 1, extra_data: 2 }]) {
    assert.throws(
      () => decodeJsonEntry(12, item),
      (err: unknown) => isCertstreamError(err, 'CT_ERR_BAD_LEAF') && /entry 12/.test(err.message),
    );
  }
  // Not base64 at all decodes to (nearly) nothing, which is a bad leaf, not a crash.
  assertBadLeaf(() => decodeJsonEntry(0, { leaf_input: '!!!!', extra_data: '****' }), 'non-base64');
});

test('random byte corruption of real entries either decodes or throws CT_ERR_BAD_LEAF, nothing else', () => {
  const rnd = xorshift32(0x6a09e667);
  let rejected = 0;
  for (let i = 0; i < 400; i++) {
    const e = live[i % live.length];
    const leaf = Buffer.from(e.leaf_input, 'base64');
    const extra = Buffer.from(e.extra_data, 'base64');
    // Corrupt the framing region (headers and length prefixes live in the first bytes) of one of the two.
    const target = i % 2 === 0 ? leaf : extra;
    const at = rnd() % Math.min(target.length, 64);
    target[at] ^= 1 + (rnd() % 255);
    try {
      decodeLogEntry(e.cert_index, leaf, extra);
    } catch (err) {
      assert.ok(isCertstreamError(err, 'CT_ERR_BAD_LEAF'), `sample ${i} (byte ${at}): ${String(err)}`);
      rejected++;
    }
  }
  // Flips inside DER or the timestamp are invisible to the framing; those in version, types and lengths are not.
  assert.ok(rejected > 0);
});
