// Issue 10 item 2: no frame is built without a size bound. An entry whose leaf, one chain certificate or
// whole chain is over the limits of src/ct/size-limits.ts is refused by the renderer (the sink counts it as a
// parse error of its log and skips it); entries at the limits still render.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { isCertstreamError } from '../../src/errors.js';
import { MAX_CERT_BYTES, MAX_CHAIN_BYTES, entryOversize } from '../../src/ct/size-limits.js';
import type { CtEntry } from '../../src/ct/types.js';
import { Renderer } from '../../src/render/renderer.js';
import { RFC6962_LOG } from '../x509/corpus.js';

const leaf = readFileSync('test/fixtures/certs/le-r12-rsa_northkclaw.com.der');
const entry = (chain: Uint8Array[], l: Uint8Array = leaf): CtEntry => ({ index: 1, timestamp: 0, type: 'x509', leaf: l, chain });
const tooLarge = (err: unknown) => isCertstreamError(err, 'RENDER_ERR_TOO_LARGE');

test('an oversized leaf, chain certificate or chain is refused before any frame is built', () => {
  const r = new Renderer();
  assert.throws(() => r.render(RFC6962_LOG, entry([], Buffer.alloc(MAX_CERT_BYTES + 1, 0x30)), 1), tooLarge);
  assert.throws(() => r.render(RFC6962_LOG, entry([Buffer.alloc(MAX_CERT_BYTES + 1, 0x30)]), 1), tooLarge);
  const many = Array.from({ length: Math.floor(MAX_CHAIN_BYTES / leaf.length) + 1 }, () => leaf);
  assert.ok(many.every((c) => c.length <= MAX_CERT_BYTES));
  assert.throws(() => r.render(RFC6962_LOG, entry(many), 1), tooLarge);
  assert.equal(r.cachedChainCerts, 0, 'nothing oversized was cached');
});

test('entries within the limits render; the limits are what the README documents', () => {
  assert.equal(MAX_CERT_BYTES, 128 * 1024);
  assert.equal(MAX_CHAIN_BYTES, 512 * 1024);
  assert.equal(entryOversize(leaf, [leaf, leaf]), undefined);
  const frames = new Renderer().render(RFC6962_LOG, entry([leaf]), 1);
  assert.ok(frames.full.length > frames.lite.length);
});

test('the rendered chain cache is bounded in bytes', () => {
  const r = new Renderer({ chainCacheBytes: 3 * 4 * leaf.length });
  // Distinct chain certificates (the cache keys on content): real leaves with one signature byte changed.
  for (let i = 0; i < 20; i++) {
    const c = Buffer.from(leaf);
    c[c.length - 1] = i;
    r.render(RFC6962_LOG, entry([c]), 1);
  }
  assert.ok(r.cachedChainCerts >= 1 && r.cachedChainCerts < 20, `${r.cachedChainCerts} cached`);
});
