import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TlsReader, readCertList } from '../../src/ct/tls-reader.js';

test('uint reads big-endian integers of 1..6 bytes exactly', () => {
  const r = new TlsReader(Uint8Array.from([0x01, 0x02, 0x03, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x01]));
  assert.equal(r.uint(1), 1);
  assert.equal(r.uint(2), 0x0203);
  assert.equal(r.uint(6), 2 ** 48 - 1);
  assert.equal(r.offset, 9);
  assert.equal(r.remaining, 3);
  assert.equal(r.uint(3), 1);
  assert.equal(r.remaining, 0);
  r.end();
});

test('uint64 is exact for CT timestamps (ms) and below 2^53', () => {
  // 2026-05-20T18:48:13.443Z, the first live fixture entry.
  const ms = Date.parse('2026-05-20T18:48:13.443Z');
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(ms));
  assert.equal(new TlsReader(b).uint64(), ms);
  b.writeBigUInt64BE(BigInt(Number.MAX_SAFE_INTEGER));
  assert.equal(new TlsReader(b).uint64(), Number.MAX_SAFE_INTEGER);
});

test('bytes and vector return views of the right length without copying', () => {
  const buf = Uint8Array.from([0x00, 0x03, 0xaa, 0xbb, 0xcc, 0x01, 0xdd]);
  const r = new TlsReader(buf);
  const v = r.vector(2);
  assert.deepEqual([...v], [0xaa, 0xbb, 0xcc]);
  assert.equal(v.buffer, buf.buffer, 'a view, not a copy');
  assert.deepEqual([...r.vector(1)], [0xdd]);
  r.end();
  // A zero-length vector is fine.
  assert.equal(new TlsReader(Uint8Array.from([0, 0, 0])).vector(3).length, 0);
});

test('reading past the end throws RangeError and does not move the cursor', () => {
  const r = new TlsReader(Uint8Array.from([0x00, 0x05, 0x01]));
  assert.throws(() => r.vector(2), RangeError);
  const r2 = new TlsReader(Uint8Array.from([0x01]));
  assert.throws(() => r2.uint(2), /need 2 bytes at offset 0, only 1 left/);
  assert.equal(r2.offset, 0);
  assert.throws(() => new TlsReader(new Uint8Array(7)).uint64(), RangeError);
  assert.throws(() => new TlsReader(new Uint8Array(0)).bytes(1), RangeError);
});

test('end() rejects trailing bytes', () => {
  const r = new TlsReader(Uint8Array.from([1, 2, 3]));
  r.uint(1);
  assert.throws(() => r.end(), /2 trailing bytes/);
});

test('readCertList splits uint24-prefixed certificates and rejects empty or truncated ones', () => {
  const list = Uint8Array.from([0, 0, 2, 0x30, 0x00, 0, 0, 3, 0x30, 0x01, 0x05]);
  const certs = readCertList(list);
  assert.deepEqual(certs.map((c) => [...c]), [[0x30, 0x00], [0x30, 0x01, 0x05]]);
  assert.deepEqual(readCertList(new Uint8Array(0)), []);
  assert.throws(() => readCertList(Uint8Array.from([0, 0, 0])), /empty certificate in chain/);
  assert.throws(() => readCertList(Uint8Array.from([0, 0, 4, 0x30, 0x00])), RangeError);
  assert.throws(() => readCertList(Uint8Array.from([0, 0])), RangeError);
});
