import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { StreamFrames } from '../../src/stream/fanout-hub.js';
import { MAX_DOMAINS, RecentSample, summarise } from '../../src/stream/recent-sample.js';

/** Lite frames shaped like the real ones (the fields the summary reads). */
function batch(log: string, from: number, n: number, domains = (i: number) => [`host${i}.example.com`]): StreamFrames[] {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    const lite = JSON.stringify({
      data: {
        cert_index: i,
        cert_link: '',
        leaf_cert: { all_domains: domains(i), issuer: { C: 'US', CN: 'R12', O: "Let's Encrypt" } },
        seen: 1_764_000_000 + i,
        source: { name: `Log ${log}`, url: `https://${log}/` },
        update_type: i % 2 === 0 ? 'X509LogEntry' : 'PrecertLogEntry',
      },
      message_type: 'certificate_update',
    });
    return { lite, full: lite, domains: '{}' };
  });
}

test('summarises a real golden lite frame', () => {
  const lite = readFileSync('test/fixtures/calidog-golden/out/precert_entry_synthetic.lite.json', 'utf8').trim();
  const frame = JSON.parse(lite) as { data: { cert_index: number; leaf_cert: { all_domains: string[] }; source: { url: string } } };
  const c = summarise(lite, 7)!;
  assert.equal(c.seq, 7);
  assert.equal(c.precert, true);
  assert.equal(c.cert_index, frame.data.cert_index);
  assert.deepEqual(c.domains, frame.data.leaf_cert.all_domains.slice(0, MAX_DOMAINS));
  assert.equal(c.log_url, frame.data.source.url);
  assert.ok(c.issuer.length > 0);
  assert.equal(summarise('{"message_type":"heartbeat"}', 1), undefined);
  assert.equal(summarise('not json', 1), undefined);
});

test('at most perSecond entries a second are kept, spread over the batch', () => {
  const s = new RecentSample({ perSecond: 10, capacity: 100 });
  // 2,000 entries/s for 3 s in batches of 32 every 16 ms.
  let index = 0;
  for (let t = 0; t < 3000; t += 16) {
    s.offer(batch('a.example', index, 32), t);
    index += 32;
  }
  const kept = s.since();
  assert.equal(s.offered, index);
  // The bucket starts full (10) and refills 10/s: about 40 over 3 s, never more.
  assert.ok(kept.length >= 35 && kept.length <= 40, `kept ${kept.length}`);
  assert.deepEqual(kept.map((c) => c.seq), kept.map((_, i) => i + 1));
  // The first batch gave all 10 tokens, spread over it rather than its first 10 entries.
  assert.deepEqual(kept.slice(0, 10).map((c) => c.cert_index), [0, 3, 6, 9, 12, 16, 19, 22, 25, 28]);
});

test('since(seq) returns only newer entries; the ring keeps the newest capacity', () => {
  const s = new RecentSample({ perSecond: 5, capacity: 8 });
  for (let k = 0; k < 4; k++) s.offer(batch('b.example', k * 5, 5), k * 1000);
  assert.equal(s.lastSeq, 20);
  const all = s.since();
  assert.equal(all.length, 8);
  assert.deepEqual(all.map((c) => c.seq), [13, 14, 15, 16, 17, 18, 19, 20]);
  assert.deepEqual(s.since(18).map((c) => c.seq), [19, 20]);
  assert.deepEqual(s.since(20), []);
  assert.deepEqual(s.since(2).map((c) => c.seq)[0], 13);
});

test('long domain lists are cut, their count kept; unreadable frames are counted', () => {
  const s = new RecentSample({ perSecond: 100 });
  s.offer(batch('c.example', 0, 1, () => Array.from({ length: 50 }, (_, i) => `n${i}.example`)), 0);
  s.offer([{ lite: 'garbage', full: '', domains: '' }], 1000);
  const [c] = s.since();
  assert.equal(c.domains.length, MAX_DOMAINS);
  assert.equal(c.domain_count, 50);
  assert.equal(c.issuer, "Let's Encrypt R12");
  assert.equal(s.unreadable, 1);
  const issuer = (O: unknown, CN: unknown) =>
    summarise(JSON.stringify({ data: { cert_index: 1, leaf_cert: { all_domains: [], issuer: { O, CN } } } }), 1)!.issuer;
  assert.equal(issuer('Amazon', 'Amazon ECDSA 384 M01'), 'Amazon ECDSA 384 M01');
  assert.equal(issuer(null, 'R12'), 'R12');
  assert.equal(issuer('Some CA', null), 'Some CA');
  assert.equal(issuer(null, null), '');
  assert.throws(() => new RecentSample({ perSecond: 0 }), RangeError);
});
