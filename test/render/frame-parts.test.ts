// The renderer's FrameParts rebuild `full` and `domains` byte-identically from `lite` and the pieces, on
// every real fixture entry, with the chain cache on and off, and the fingerprint is where they say (the
// replay window's compact records rely on exactly this).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sha1Fingerprint } from '../../src/render/cert-json.js';
import { LEAF_DOMAINS_KEY, Renderer, type RenderedFrames } from '../../src/render/renderer.js';
import { RFC6962_LOG, STATIC_LOG, rfc6962Entries, staticEntries } from '../x509/corpus.js';

function rebuilt(f: RenderedFrames): { full: string; domains: string } {
  const p = f.parts;
  return {
    full: f.lite.slice(0, p.chainAt) + '"chain":[' + p.chain.join(',') + '],' + f.lite.slice(p.chainAt, p.asDerAt)
      + '"as_der":"' + Buffer.from(p.leafDer).toString('base64') + '",' + f.lite.slice(p.asDerAt),
    domains: '{"data":' + f.lite.slice(p.chainAt + LEAF_DOMAINS_KEY.length, p.asDerAt - 1) + ',"message_type":"dns_entries"}',
  };
}

for (const chainCacheSize of [10_000, 0]) {
  test(`full and domains rebuild byte-identically from lite and the parts (chain cache ${chainCacheSize})`, () => {
    const r = new Renderer({ chainCacheSize });
    let n = 0;
    for (const [log, entries] of [[RFC6962_LOG, rfc6962Entries()], [STATIC_LOG, staticEntries()]] as const) {
      for (const e of entries) {
        const f = r.render(log, e, 1779269400.25 + n);
        const b = rebuilt(f);
        // (ok, not equal: a failing equal diffs two 8 KB strings for minutes)
        assert.ok(b.full === f.full, `entry ${e.index}: full rebuilt`);
        assert.ok(b.domains === f.domains, `entry ${e.index}: domains rebuilt`);
        assert.equal(f.parts.chain.length, e.chain.length);
        assert.equal(f.lite.slice(f.parts.fingerprintAt, f.parts.fingerprintAt + 59), sha1Fingerprint(e.leaf), `entry ${e.index}: fingerprint`);
        assert.equal(f.lite.slice(f.parts.fingerprintAt - 16, f.parts.fingerprintAt), ',"fingerprint":"');
        n++;
      }
    }
    assert.ok(n > 290);
  });
}
