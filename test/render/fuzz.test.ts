// Robustness: thousands of seeded mutations and truncations of real fixture DER never throw out of the
// renderer except as its typed error (CertstreamError X509_ERR_*), and whatever renders is valid JSON.
// The 10 ms per-input budget is checked by bench/render.ts (no timing assertions in tests).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CertstreamError } from '../../src/errors.js';
import { Renderer } from '../../src/render/renderer.js';
import { fixtureCorpus, RFC6962_LOG } from '../x509/corpus.js';
import { mutate, prng } from '../x509/mutate.js';

const corpus = fixtureCorpus();

/** Renders `bytes` as leaf and as chain; returns true when it rendered, false when rejected as typed. */
function attempt(r: Renderer, bytes: Uint8Array, label: string): boolean {
  try {
    const f = r.render(RFC6962_LOG, { index: 1, timestamp: 0, type: 'x509', leaf: bytes, chain: [bytes] }, 1730205715.5);
    for (const frame of [f.full, f.lite, f.domains]) JSON.parse(frame);
    assert.equal(Buffer.from(f.full, 'utf8').toString('utf8'), f.full, `${label}: frame is not well-formed UTF-16/UTF-8`);
    return true;
  } catch (err) {
    if (err instanceof CertstreamError && err.code.startsWith('X509_ERR_')) return false;
    assert.fail(`${label}: threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
  }
}

for (const seed of [1, 2, 3]) {
  test(`2,000 seeded mutations (seed ${seed}) render or fail as X509_ERR_*`, () => {
    const rnd = prng(seed);
    const r = new Renderer({ chainCacheSize: 100 });
    let rendered = 0;
    let rejected = 0;
    for (let i = 0; i < 2000; i++) {
      const base = corpus[Math.floor(rnd() * corpus.length)];
      const m = mutate(base.der, rnd);
      if (attempt(r, m.bytes, `seed ${seed} #${i} ${m.kind} of ${base.name}`)) rendered++;
      else rejected++;
    }
    // Both outcomes occur: mutations inside values still render, structural ones are rejected.
    assert.ok(rendered > 200, `${rendered} rendered`);
    assert.ok(rejected > 200, `${rejected} rejected`);
  });
}

test('every truncation of 20 fixture certificates is rejected as X509_ERR_NOT_A_CERT', () => {
  const r = new Renderer();
  let count = 0;
  for (const c of corpus.slice(0, 20)) {
    for (let n = 0; n < c.der.length; n++) {
      assert.throws(
        () => r.render(RFC6962_LOG, { index: 1, timestamp: 0, type: 'x509', leaf: c.der.subarray(0, n), chain: [] }, 1),
        (err: unknown) => err instanceof CertstreamError && err.code === 'X509_ERR_NOT_A_CERT',
        `${c.name} truncated to ${n} bytes`,
      );
      count++;
    }
  }
  assert.ok(count > 10_000);
});

test('trailing bytes after a certificate are ignored; the fingerprint still covers the bytes given', () => {
  const c = corpus[0].der;
  const r = new Renderer();
  const a = r.render(RFC6962_LOG, { index: 1, timestamp: 0, type: 'x509', leaf: c, chain: [] }, 1);
  const b = r.render(RFC6962_LOG, { index: 1, timestamp: 0, type: 'x509', leaf: Buffer.concat([c, Buffer.from([0, 0])]), chain: [] }, 1);
  assert.equal(b.domains, a.domains);
  assert.notEqual(b.full, a.full);
});
