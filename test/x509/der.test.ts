// Unit tests of the small DER reader and its helpers (the render hot path's foundation).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CertstreamError } from '../../src/errors.js';
import { TAG, children, expectTlv, readBoolean, readSmallInt, readTlv } from '../../src/x509/der.js';
import { oidKeyOf, oidToDotted } from '../../src/x509/oid.js';
import { serialToHex } from '../../src/x509/serial.js';
import { decodeTime } from '../../src/x509/time.js';
import { directoryString } from '../../src/x509/strings.js';
import { printableText } from '../../src/render/printable.js';
import { signatureAlgorithmName } from '../../src/x509/signature-algorithm.js';
import { compareUtf8, allDomainsOf } from '../../src/render/cert-json.js';

const isBadDer = (err: unknown): boolean => err instanceof CertstreamError && err.code === 'X509_ERR_BAD_DER';
const b = (...bytes: number[]): Buffer => Buffer.from(bytes);

test('readTlv: short, long and high-tag forms', () => {
  assert.deepEqual(readTlv(b(0x04, 0x02, 0xaa, 0xbb), 0, 4), { tag: 0x04, offset: 0, start: 2, end: 4 });
  const long = Buffer.concat([b(0x30, 0x82, 0x01, 0x00), Buffer.alloc(256)]);
  assert.deepEqual(readTlv(long, 0, long.length), { tag: 0x30, offset: 0, start: 4, end: 260 });
  assert.deepEqual(readTlv(b(0x9f, 0x81, 0x01, 0x01, 0x00), 0, 5), { tag: 0x9f, offset: 0, start: 4, end: 5 });
  assert.deepEqual(readTlv(b(0x05, 0x00), 0, 2), { tag: 0x05, offset: 0, start: 2, end: 2 });
});

test('readTlv: truncation, indefinite length, over-long length and overrun are X509_ERR_BAD_DER', () => {
  for (const bytes of [b(), b(0x30), b(0x30, 0x80, 0x00, 0x00), b(0x30, 0x85, 1, 1, 1, 1, 1), b(0x30, 0x82, 0x01), b(0x04, 0x03, 1, 2), b(0x9f, 0x81), b(0x9f, 0x81, 0x81, 0x81, 0x81, 0x81, 0x01)]) {
    assert.throws(() => readTlv(bytes, 0, bytes.length), isBadDer, bytes.toString('hex'));
  }
  // The limit is the enclosing value, not the buffer.
  assert.throws(() => readTlv(b(0x04, 0x02, 1, 2), 0, 3), isBadDer);
});

test('expectTlv, children, readBoolean, readSmallInt', () => {
  const seq = b(0x30, 0x06, 0x01, 0x01, 0xff, 0x02, 0x01, 0x05);
  const s = expectTlv(seq, 0, seq.length, TAG.SEQUENCE, 'x');
  const [bool, int] = children(seq, s.start, s.end);
  assert.equal(readBoolean(seq, bool), true);
  assert.equal(readSmallInt(seq, int), 5);
  assert.throws(() => expectTlv(seq, 0, seq.length, TAG.SET, 'x'), isBadDer);
  assert.throws(() => readBoolean(b(0x01, 0x02, 0, 0), { tag: 1, offset: 0, start: 2, end: 4 }), isBadDer);
});

test('OIDs: dotted text of small, large and 2.x arcs; keys round-trip', () => {
  for (const dotted of ['2.5.29.17', '1.2.840.113549.1.1.11', '1.3.6.1.4.1.11129.2.4.2', '2.999.3', '0.9.2342.19200300.100.1.25', '1.2.123456789012345678901234567890']) {
    const key = Buffer.from(oidKeyOf(dotted), 'latin1');
    assert.equal(oidToDotted(key, 0, key.length), dotted);
  }
  assert.throws(() => oidToDotted(b(0x2a, 0x86), 0, 2), (e: unknown) => e instanceof CertstreamError);
  assert.throws(() => oidToDotted(b(), 0, 0), (e: unknown) => e instanceof CertstreamError);
});

test('serialToHex: uppercase, no leading zeros, odd length, zero, negative', () => {
  assert.equal(serialToHex(b(0x00, 0x0f, 0xdb), 0, 3), 'FDB');
  assert.equal(serialToHex(b(0x00), 0, 1), '0');
  assert.equal(serialToHex(b(0x00, 0x00), 0, 2), '0');
  assert.equal(serialToHex(b(0x7f, 0xff), 0, 2), '7FFF');
  assert.equal(serialToHex(b(0xff), 0, 1), '-1');
  assert.equal(serialToHex(b(0x80, 0x00), 0, 2), '-8000');
  assert.equal(serialToHex(b(0xfe, 0x00), 0, 2), '-200');
});

test('decodeTime: UTCTime and GeneralizedTime forms', () => {
  const t = (tag: number, s: string): ReturnType<typeof decodeTime> => decodeTime(Buffer.from(s, 'latin1'), tag, 0, s.length);
  assert.equal(t(TAG.UTC_TIME, '180221075535Z'), 1519199735);
  assert.equal(t(TAG.GENERALIZED_TIME, '20180221075535Z'), 1519199735);
  assert.equal(t(TAG.GENERALIZED_TIME, '99991231235959Z'), 'no_expiration');
  assert.equal(t(TAG.GENERALIZED_TIME, '99991231235958Z'), 253402300798);
  assert.equal(t(TAG.UTC_TIME, '000229000000Z'), 951782400);
  assert.equal(t(TAG.UTC_TIME, '010229000000Z'), null);
  assert.equal(t(TAG.GENERALIZED_TIME, '21000229000000Z'), null);
  assert.equal(t(TAG.UTC_TIME, '180221075535.Z'), null);
  assert.equal(t(TAG.UTC_TIME, '18022107553Z'), null);
  assert.equal(t(TAG.UTC_TIME, '180221245535Z'), null);
  assert.equal(t(TAG.UTC_TIME, '180221075535+01'), null);
  assert.equal(t(TAG.OCTET_STRING, '180221075535Z'), null);
});

test('directoryString: string types', () => {
  const s = (tag: number, bytes: number[]): string | null => directoryString(Buffer.from(bytes), tag, 0, bytes.length);
  assert.equal(s(TAG.PRINTABLE_STRING, [0x41, 0xc3, 0xb6]), 'AÃ¶');
  assert.equal(s(TAG.TELETEX_STRING, [0x4b, 0xf6]), 'Kö');
  assert.equal(s(TAG.UTF8_STRING, [0x4b, 0xc3, 0xb6]), 'Kö');
  assert.equal(s(TAG.UTF8_STRING, [0xff]), '\uFFFD');
  assert.equal(s(TAG.BMP_STRING, [0, 0x41]), '');
  assert.equal(s(TAG.UNIVERSAL_STRING, [0, 0, 0, 0x41]), '');
  assert.equal(s(TAG.OCTET_STRING, [0x41]), null);
});

test('printableText: UTF-8 decoding, invalid bytes and non-printables dropped', () => {
  const p = (bytes: number[]): string => printableText(Buffer.from(bytes), 0, bytes.length);
  assert.equal(p([0, 0x41, 0, 0x42]), 'AB');
  assert.equal(p([0x41, 0xff, 0xc3, 0xb6, 0x01, 0x0a, 0x7f]), 'Aö\n\x7f');
  assert.equal(p([0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80, 0xed, 0xa0, 0x80]), '€\u{1F600}');
  assert.equal(p([0xc2, 0x80, 0xc2, 0xa0]), '\u00a0');
  assert.equal(p([0xe2, 0x82]), '');
});

test('signatureAlgorithmName: known pairs, PSS digest, dotted fallback', () => {
  const name = (dotted: string, params?: number[]): string => {
    const oid = Buffer.from(oidKeyOf(dotted), 'latin1');
    const buf = Buffer.concat([oid, Buffer.from(params ?? [])]);
    return signatureAlgorithmName(buf, 0, oid.length, params ? oid.length : -1, buf.length);
  };
  assert.equal(name('1.2.840.113549.1.1.11'), 'sha256, rsa');
  assert.equal(name('1.2.840.10045.4.3.2'), 'sha256, ecdsa');
  assert.equal(name('1.2.840.10040.4.3'), 'sha, dsa');
  assert.equal(name('1.3.101.112'), 'none, eddsa');
  assert.equal(name('1.2.840.113549.1.1.10', [0x05, 0x00]), 'sha, rsassa-pss');
  assert.equal(name('1.2.840.113549.1.1.10', [0x30, 0x00]), 'sha, rsassa-pss');
  // hashAlgorithm [0] SEQUENCE { sha384 }
  const sha384 = [...Buffer.from(oidKeyOf('2.16.840.1.101.3.4.2.2'), 'latin1')];
  assert.equal(name('1.2.840.113549.1.1.10', [0x30, sha384.length + 6, 0xa0, sha384.length + 4, 0x30, sha384.length + 2, 0x06, sha384.length, ...sha384]), 'sha384, rsassa-pss');
  assert.equal(name('1.2.840.113549.1.1.10', [0x30, 0x03, 0xa0]), '1.2.840.113549.1.1.10');
  assert.equal(name('1.2.156.10197.1.501'), '1.2.156.10197.1.501');
});

test('all_domains order is byte-wise UTF-8 (code point) order', () => {
  assert.ok(compareUtf8('\uFFFD', '\u{1F600}') < 0); // JS UTF-16 order would put U+1F600 (D83D…) first
  assert.ok(compareUtf8('*.a', 'a') < 0);
  assert.ok(compareUtf8('B', 'a') < 0);
  assert.equal(compareUtf8('x', 'x'), 0);
  assert.deepEqual(allDomainsOf('a.example', ['b.example', 'a.example']), ['a.example', 'b.example']);
  assert.deepEqual(allDomainsOf(null, []), []);
  assert.deepEqual(allDomainsOf('', []), ['']);
});

test('OIDs: an arc longer than 32 bytes is malformed (bounded work), 32 bytes is fine', () => {
  const ok = Buffer.concat([b(0x2a), Buffer.alloc(31, 0x81), b(0x01)]);
  assert.match(oidToDotted(ok, 0, ok.length), /^1\.2\.\d+$/);
  const long = Buffer.concat([b(0x2a), Buffer.alloc(60_000, 0x81), b(0x01)]);
  assert.throws(() => oidToDotted(long, 0, long.length), isBadDer);
});
