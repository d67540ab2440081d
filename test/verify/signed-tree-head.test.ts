import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { isCertstreamError, type ErrorCode } from '../../src/errors.js';
import { encodeDigitallySigned } from '../../src/verify/digitally-signed.js';
import { parseLogKey, type LogKey } from '../../src/verify/log-key.js';
import { parseSignedTreeHead, verifySignedTreeHead, type SignedTreeHead } from '../../src/verify/signed-tree-head.js';
import { treeHeadSignatureInput } from '../../src/verify/tree-head.js';
import { flip, listed, pilotSths } from './fixtures.js';

const pilot = listed("Google 'Pilot' log");
const pilotKey = parseLogKey(pilot.key, pilot.log_id);

function throwsCode(fn: () => unknown, codes: ErrorCode[], label: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isCertstreamError(err, ...codes), `${label}: expected ${codes.join('|')}, got ${String(err)}`);
    return true;
  }, label);
}

test('all 909 real Google Pilot STHs verify with the key from the log list', () => {
  assert.equal(pilotSths.length, 909);
  assert.equal(pilotKey.algorithm, 'ecdsa-p256');
  for (const [i, body] of pilotSths.entries()) {
    const head = verifySignedTreeHead(parseSignedTreeHead(body), pilotKey, `line ${i + 1}`);
    assert.equal(head.treeSize, body.tree_size);
    assert.equal(head.timestamp, body.timestamp);
    assert.equal(Buffer.from(head.rootHash).toString('base64'), body.sha256_root_hash);
  }
});

test('TreeHeadSignature input: v1, tree_hash, uint64 timestamp, uint64 size, root (RFC 6962 §3.5)', () => {
  const sth = parseSignedTreeHead(pilotSths[0]);
  const input = treeHeadSignatureInput(sth);
  assert.equal(input.length, 50);
  assert.equal(input.readUInt8(0), 0);
  assert.equal(input.readUInt8(1), 1);
  assert.equal(input.readBigUInt64BE(2), 1377267068452n);
  assert.equal(input.readBigUInt64BE(10), 2541248n);
  assert.deepEqual(input.subarray(18), Buffer.from('KIPMaXFZbsKm6qqAXwwPSzLwAvV1UILeW2poxkSADyc=', 'base64'));
});

// Every 30th STH: each flipped field must fail.
const sample = pilotSths.filter((_, i) => i % 30 === 0).map((b) => parseSignedTreeHead(b));

test('a flipped bit in the signature, root, size or timestamp fails with VERIFY_ERR_SIGNATURE', () => {
  for (const sth of sample) {
    const variants: [string, SignedTreeHead][] = [
      // byte 4 is the DER SEQUENCE tag, 8.. are inside r; the last byte is inside s
      ...[4, 10, 20, sth.signature.length - 1].map((at): [string, SignedTreeHead] => [`signature byte ${at}`, { ...sth, signature: flip(sth.signature, at) }]),
      ['root bit', { ...sth, rootHash: flip(sth.rootHash, 31, 7) }],
      ['size + 1', { ...sth, treeSize: sth.treeSize + 1 }],
      ['size bit 20', { ...sth, treeSize: sth.treeSize ^ (1 << 20) }],
      ['timestamp + 1', { ...sth, timestamp: sth.timestamp + 1 }],
    ];
    for (const [label, v] of variants) throwsCode(() => verifySignedTreeHead(v, pilotKey), ['VERIFY_ERR_SIGNATURE'], label);
  }
});

test('another key, or a flipped bit anywhere in the key, fails (VERIFY_ERR_SIGNATURE or VERIFY_ERR_KEY)', () => {
  const sycamore = listed("Let's Encrypt 'Sycamore2026h1'");
  throwsCode(() => verifySignedTreeHead(sample[0], parseLogKey(sycamore.key)), ['VERIFY_ERR_SIGNATURE'], 'Sycamore key');
  const spki = Buffer.from(pilot.key, 'base64');
  for (let at = 0; at < spki.length; at++) {
    for (const bit of [0, 7]) {
      throwsCode(() => verifySignedTreeHead(sample[0], parseLogKey(flip(spki, at, bit).toString('base64'))), ['VERIFY_ERR_SIGNATURE', 'VERIFY_ERR_KEY'], `key byte ${at} bit ${bit}`);
    }
  }
});

test('a malformed tree_head_signature fails with VERIFY_ERR_SIGNATURE, never a crash', () => {
  const sth = sample[0];
  const bads: [string, Buffer][] = [
    ['empty', Buffer.alloc(0)],
    ['truncated', sth.signature.subarray(0, sth.signature.length - 1)],
    ['trailing byte', Buffer.concat([sth.signature, Buffer.from([0])])],
    ['hash algorithm sha1', Buffer.concat([Buffer.from([2]), sth.signature.subarray(1)])],
    ['signature algorithm rsa for an ECDSA key', Buffer.concat([Buffer.from([4, 1]), sth.signature.subarray(2)])],
    ['garbage DER', Buffer.concat([sth.signature.subarray(0, 4), Buffer.alloc(sth.signature.length - 4, 0x30)])],
  ];
  for (const [label, signature] of bads) throwsCode(() => verifySignedTreeHead({ ...sth, signature }, pilotKey), ['VERIFY_ERR_SIGNATURE'], label);
});

test('parseSignedTreeHead rejects malformed get-sth bodies (CT_ERR_BAD_RESPONSE)', () => {
  const good = pilotSths[0];
  for (const [label, body] of [
    ['null', null],
    ['array', []],
    ['no tree_size', { ...good, tree_size: undefined }],
    ['negative size', { ...good, tree_size: -1 }],
    ['string timestamp', { ...good, timestamp: '1' }],
    ['short root', { ...good, sha256_root_hash: 'AAAA' }],
    ['root not base64', { ...good, sha256_root_hash: '!'.repeat(44) }],
    ['no signature', { ...good, tree_head_signature: '' }],
  ] as [string, unknown][]) {
    throwsCode(() => parseSignedTreeHead(body), ['CT_ERR_BAD_RESPONSE'], label);
  }
});

function rsaHead(): { key: LogKey; sth: SignedTreeHead } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const key = parseLogKey(publicKey.export({ format: 'der', type: 'spki' }).toString('base64'));
  const head = { treeSize: 1234, timestamp: 1_700_000_000_000, rootHash: Buffer.alloc(32, 7) };
  const signature = encodeDigitallySigned({ hashAlgorithm: 4, signatureAlgorithm: 1, signature: sign('sha256', treeHeadSignatureInput(head), privateKey) });
  return { key, sth: { ...head, signature } };
}

test('RSA/SHA-256 heads verify (PKCS #1 v1.5) and a flipped bit fails', () => {
  const { key, sth } = rsaHead();
  assert.equal(key.algorithm, 'rsa');
  assert.equal(verifySignedTreeHead(sth, key).treeSize, 1234);
  throwsCode(() => verifySignedTreeHead({ ...sth, treeSize: 1235 }, key), ['VERIFY_ERR_SIGNATURE'], 'size');
  throwsCode(() => verifySignedTreeHead({ ...sth, signature: flip(sth.signature, 100) }, key), ['VERIFY_ERR_SIGNATURE'], 'signature');
  throwsCode(() => verifySignedTreeHead(sth, pilotKey), ['VERIFY_ERR_SIGNATURE'], 'RSA signature, ECDSA key');
});

test('parseLogKey: log_id must be SHA-256 of the key; unusable keys are VERIFY_ERR_KEY', () => {
  assert.equal(pilotKey.logId.toString('base64'), pilot.log_id);
  throwsCode(() => parseLogKey(pilot.key, listed("Let's Encrypt 'Sycamore2026h1'").log_id), ['VERIFY_ERR_KEY'], 'other log_id');
  const der = (k: { publicKey: KeyObject }) => k.publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
  const unusable: [string, unknown][] = [
    ['missing', undefined],
    ['empty', ''],
    ['not base64', 'not base64!'],
    ['not a key', Buffer.from('hello world!').toString('base64')],
    ['trailing byte', Buffer.concat([Buffer.from(pilot.key, 'base64'), Buffer.from([0])]).toString('base64')],
    ['P-384', der(generateKeyPairSync('ec', { namedCurve: 'secp384r1' }))],
    ['Ed25519', der(generateKeyPairSync('ed25519'))],
    ['RSA 1024', der(generateKeyPairSync('rsa', { modulusLength: 1024 }))],
  ];
  for (const [label, key] of unusable) throwsCode(() => parseLogKey(key), ['VERIFY_ERR_KEY'], label);
});
