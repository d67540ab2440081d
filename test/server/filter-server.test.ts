// `?match=` end to end: the real server follows the fake CT log (real CT entries and synthesised
// certificates), real ws clients. A filtered client receives exactly the frames of the unfiltered stream
// whose names match (judged here by a plain reference reading of the rule syntax, not by the server's
// matcher), byte for byte, on all three paths; a durable filtered client cut mid-stream resumes with
// nothing lost; malformed rule sets get HTTP 400 with one line from the real listener, and a set at the
// size limit — longer than Node's default header limit once URL-encoded — is served. /status.json (the
// dashboard's data) counts the filtered clients.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { caughtUp, recordFrames, upgradeAnswer, type Recorded } from '../support/stream-probe.js';
import { waitUntil } from '../support/wait-until.js';
import { nextIndexes, startFake, startReal, tempDir, testConfig, whenFake } from './server-harness.js';

/** The rules of this test, and what they select, read the simple way (interface.md's rule syntax). */
const RULES = 'Synthetic-2.EXAMPLE,~login-,=*.pay-42.synthetic-3.example,~.google.';
function selects(rawName: string): boolean {
  const name = rawName.toLowerCase().replace(/^\*\./, '');
  return name === 'synthetic-2.example' || name.endsWith('.synthetic-2.example') || name.includes('login-') || name === 'pay-42.synthetic-3.example' || name.includes('.google.');
}

const record = recordFrames;

/** The certificate frames (not heartbeats) of a recording. */
const entries = (r: Recorded) => r.raw.filter((m) => !m.startsWith('{"message_type":"heartbeat"'));

/** The names of a frame of any stream. */
function names(frame: string): string[] {
  const m = JSON.parse(frame) as { data: string[] | { leaf_cert: { all_domains: string[] } } };
  return Array.isArray(m.data) ? m.data : m.data.leaf_cert.all_domains;
}

test('filtered clients get exactly the matching frames, byte-identical; a durable filtered client resumes a cut with nothing lost', { timeout: 120_000 }, async (t) => {
  const fake = await startFake(t, { rfc6962Logs: 1, staticLogs: 1, initialSize: 100 });
  const server = await startReal(testConfig(fake, await tempDir(t), { durablePingIntervalMs: 50 }));
  t.after(() => server.close());
  const atHeads = () => fake.logs.every((l) => nextIndexes(server).get(l.url) === fake.size(l.url));
  await whenFake(fake, atHeads);
  const base = `ws://127.0.0.1:${server.port}`;
  const match = `match=${encodeURIComponent(RULES)}`;
  const paths = ['/', '/full-stream', '/domains-only'];
  const plain = await Promise.all(paths.map((p) => record(`${base}${p}`)));
  const filtered = await Promise.all(paths.map((p) => record(`${base}${p}?${match}`)));
  let durable = await record(`${base}/full-stream?id=filtered-one&${match}`);
  const durableSeen: string[][] = [durable.raw];
  // The dashboard's data counts them (and certstream_clients includes them).
  const status = (await (await fetch(`http://127.0.0.1:${server.port}/status.json`)).json()) as { filtered_clients_by_stream: unknown; clients_by_stream: unknown };
  assert.deepEqual(status.filtered_clients_by_stream, { lite: 1, full: 2, domains: 1 });
  assert.deepEqual(status.clients_by_stream, { lite: 2, full: 3, domains: 2 });

  const total = () => fake.logs.reduce((n, l) => n + fake.size(l.url) - 100, 0);
  fake.append(150); // on each log: 300 entries, real ones and synthetic ones
  await whenFake(fake, atHeads);
  await waitUntil('the unfiltered streams', 20_000, () => plain.every((p) => entries(p).length === total()));
  const matchingSoFar = entries(plain[1]).filter((f) => names(f).some(selects)).length;
  await waitUntil('the durable client before the cut', 20_000, () => entries(durable).length >= matchingSoFar);
  // Cut the durable client, and publish more while it is away.
  durable.ws.terminate();
  await waitUntil('the durable client gone', 5000, () => server.hub.stats().clients.full === 2);
  fake.append(120);
  await whenFake(fake, atHeads);
  durable = await record(`${base}/full-stream?id=filtered-one&${match}`);
  durableSeen.push(durable.raw);
  await waitUntil('the unfiltered streams again', 20_000, () => plain.every((p) => entries(p).length === total()));

  for (let i = 0; i < paths.length; i++) {
    await caughtUp(filtered[i].ws);
    const expected = entries(plain[i]).filter((f) => names(f).some(selects));
    assert.ok(expected.length > 0 && expected.length < total() / 2, `${paths[i]}: the rules select some entries, not all (${expected.length} of ${total()})`);
    assert.deepEqual(entries(filtered[i]), expected, paths[i]);
  }
  const expectedFull = entries(plain[1]).filter((f) => names(f).some(selects));
  await waitUntil('the durable client caught up', 20_000, () => new Set(durableSeen.flatMap((r) => entries({ ws: durable.ws, raw: r }))).size >= expectedFull.length);
  await caughtUp(durable.ws);
  const got = new Set(durableSeen.flatMap((r) => entries({ ws: durable.ws, raw: r })));
  assert.deepEqual([...got].sort(), [...expectedFull].sort(), 'every matching entry across the cut, and nothing else (repeats of the unconfirmed tail allowed)');
  for (const r of [...plain, ...filtered, durable]) r.ws.close();
});

test('malformed match: HTTP 400 with one line before the upgrade; a set at the limits is served', { timeout: 60_000 }, async (t) => {
  const fake = await startFake(t, { rfc6962Logs: 1, staticLogs: 0, initialSize: 10 });
  const server = await startReal(testConfig(fake, await tempDir(t)));
  t.after(() => server.close());
  const thousand = Array.from({ length: 1000 }, (_, i) => `n-${String(i).padStart(4, '0')}.example`).join(',');
  for (const [query, expect] of [
    [`match=${encodeURIComponent('/pay.*pal/')}`, /regular expressions are not accepted/],
    [`match=${encodeURIComponent(`${thousand},one-more.example`)}`, /1001 rules/],
    [`match=${'a'.repeat(17 * 1024)}`, /over 16384 bytes/],
    [`match=${encodeURIComponent('a.example,,b.example')}`, /rule 2 is empty/],
    ['match=', /rule 1 is empty/],
    ['match=a.example&match=b.example', /more than once/],
    [`match=${encodeURIComponent('a b')}`, /not a domain name/],
  ] as const) {
    for (const path of ['/', '/full-stream', '/domains-only']) {
      const res = await upgradeAnswer(`http://127.0.0.1:${server.port}${path}?${query}`);
      assert.equal(res.status, 400, `${path}?${query.slice(0, 60)}`);
      assert.match(res.body, expect);
      assert.equal(res.body.trimEnd().split('\n').length, 1);
    }
  }
  // 1,000 rules in 16 KiB: about 18 KB URL-encoded, over Node's default 16 KiB of headers.
  assert.ok(thousand.length <= 16 * 1024 && encodeURIComponent(thousand).length > 16 * 1024);
  assert.equal((await upgradeAnswer(`http://127.0.0.1:${server.port}/?id=big&match=${encodeURIComponent(thousand)}`)).status, 101);
});
