// The reused raw deflate and inflate engines of compact window records (raw-zlib.ts): the same bytes as
// zlib's one-shot functions, call after call on one engine (each use starts from a reset engine with
// its dictionary), a partial inflate of the first bytes only, and damaged or cut data refused without
// spoiling the next call. Inputs: real rendered frames.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateRawSync } from 'node:zlib';
import { RawZlib } from '../../src/replay/raw-zlib.js';
import { Renderer } from '../../src/render/renderer.js';
import { RFC6962_LOG, rfc6962Entries } from '../x509/corpus.js';

const DICTIONARY = Buffer.from('{"data":{"cert_index":,"cert_link":"https://","leaf_cert":{"all_domains":["');
const OPTIONS = { dictionary: DICTIONARY, level: 9, memLevel: 4, windowBits: 13 };

/** Real lite frames of distinct entries. */
const inputs = (() => {
  const r = new Renderer();
  return rfc6962Entries().slice(0, 30).map((e, i) => Buffer.from(r.render(RFC6962_LOG, e, 1_780_000_000 + i).lite));
})();

test('deflate and inflate on one engine each: the one-shot bytes, call after call', () => {
  const deflater = new RawZlib('deflate', OPTIONS);
  const inflater = new RawZlib('inflate', OPTIONS);
  const out = Buffer.alloc(64 * 1024);
  for (const input of inputs) {
    const n = deflater.run(input, out, 10, out.length - 10);
    const packed = Buffer.from(out.subarray(10, 10 + n));
    assert.ok(packed.equals(deflateRawSync(input, OPTIONS)), 'as zlib.deflateRawSync with the same options');
    // One byte of room more than the data: it ends cleanly at its own length.
    const back = Buffer.alloc(input.length + 1);
    assert.equal(inflater.run(packed, back, 0, back.length), input.length);
    assert.ok(back.subarray(0, input.length).equals(input));
  }
});

test('a partial inflate writes only the first bytes asked for; the next call starts afresh', () => {
  const deflater = new RawZlib('deflate', OPTIONS);
  const inflater = new RawZlib('inflate', OPTIONS);
  const out = Buffer.alloc(64 * 1024);
  for (const input of inputs) {
    const packed = Buffer.from(out.subarray(0, deflater.run(input, out, 0, out.length)));
    const head = Buffer.alloc(200, 0xee);
    assert.equal(inflater.run(packed, head, 50, 100), 100);
    assert.ok(head.subarray(50, 150).equals(input.subarray(0, 100)), 'the first 100 bytes');
    assert.ok(head.subarray(0, 50).every((b) => b === 0xee) && head.subarray(150).every((b) => b === 0xee), 'nothing written outside');
  }
});

test('damaged or cut data is refused (-1) and the engine serves the next call', () => {
  const deflater = new RawZlib('deflate', OPTIONS);
  const inflater = new RawZlib('inflate', OPTIONS);
  const out = Buffer.alloc(64 * 1024);
  const input = inputs[0];
  const packed = Buffer.from(out.subarray(0, deflater.run(input, out, 0, out.length)));
  const back = Buffer.alloc(input.length + 1);
  const damaged = Buffer.from(packed);
  for (let k = 2; k < 40; k += 3) damaged[k] ^= 0xa5;
  assert.equal(inflater.run(damaged, back, 0, back.length), -1, 'damaged');
  assert.equal(inflater.run(packed.subarray(0, packed.length >> 1), back, 0, back.length), -1, 'cut in half');
  assert.equal(inflater.run(packed, back, 0, back.length), input.length, 'whole data after both');
  assert.ok(back.subarray(0, input.length).equals(input));
});
