// Memory at rest (issue 20): the chain-certificate cache follows the work. Its size and byte caps are for
// the firehose; a certificate that no entry has used for chainCacheIdleMs is dropped, so a quiet host keeps
// only the intermediates it currently sees instead of every one seen since start. Real CT entries (three
// RFC 6962 logs, different chains), an injected clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Renderer } from '../../src/render/renderer.js';
import { RFC6962_LOG, rfc6962Entries } from '../x509/corpus.js';

test('chain certificates unused for chainCacheIdleMs leave the cache; those in use stay', () => {
  let clock = 0;
  const r = new Renderer({ chainCacheIdleMs: 60_000, now: () => clock });
  const entries = rfc6962Entries();
  for (const e of entries) r.render(RFC6962_LOG, e, 1);
  const all = r.cachedChainCerts;
  const busy = entries[0];
  const busyChain = new Set(busy.chain.map((c) => Buffer.from(c).toString('base64'))).size;
  assert.ok(busyChain >= 1 && all > busyChain, `${all} cached, ${busyChain} in the busy entry's chain`);

  clock = 30_000; // within the idle time: nothing leaves
  const before = r.render(RFC6962_LOG, busy, 1).full;
  assert.equal(r.cachedChainCerts, all);

  clock = 61_000; // the others were last used 61 s ago, the busy chain 31 s ago
  assert.equal(r.render(RFC6962_LOG, busy, 1).full, before, 'the frames do not change');
  assert.equal(r.cachedChainCerts, busyChain);

  for (const e of entries) r.render(RFC6962_LOG, e, 1); // the rate comes back: so does the cache
  assert.equal(r.cachedChainCerts, all);
});
