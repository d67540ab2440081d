// `?match=` on the real hub with real ws clients (interface.md, "Server-side filtering"): a filtered
// client gets exactly the matching frames of the unfiltered stream, byte for byte, on all three streams;
// heartbeats still flow; clients with the same normalised rules share one compiled set; sets beyond the
// bounds are refused with 503 and counted; a durable filtered client resumes across a cut with nothing
// lost, from memory and from disk, while publishing goes on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { subscribe } from '../../src/client/index.js';
import { createServerMetrics } from '../../src/metrics/server-metrics.js';
import { LocalReplayWindow } from '../../src/replay/local-replay-window.js';
import { PositionStore } from '../../src/stream/durable-positions.js';
import type { StreamFrames } from '../../src/stream/fanout-hub.js';
import { caughtUp, recordFrames, upgradeAnswer as refusal, type Recorded as Probe } from '../support/stream-probe.js';
import { waitUntil } from '../support/wait-until.js';
import { closed, frames as harnessFrames, metricValue, startHub } from './hub-harness.js';

const LOG = 'https://log.example/';

interface Recorded extends Probe {
  /** cert_index of every certificate frame (lite, full) or the index in `dN.example` (domains). */
  indexes(): number[];
  heartbeats(): number;
}

async function record(url: string): Promise<Recorded> {
  const r = await recordFrames(url);
  const entries = () => r.raw.filter((m) => !m.includes('"heartbeat"'));
  return {
    ...r,
    indexes: () => entries().map((m) => Number((/"cert_index":(\d+)/.exec(m) ?? /"d(\d+)\.example"/.exec(m))![1])),
    heartbeats: () => r.raw.length - entries().length,
  };
}

const sevens = (i: number) => String(i).includes('7');

/** The harness's frames, with the leaf's names where the renderer puts them (a replay finds them there). */
function frames(log: string, from: number, count: number, padding = 0): StreamFrames[] {
  return harnessFrames(log, from, count, padding).map((f, i) => {
    const leaf = `{"data":{"leaf_cert":{"all_domains":["d${from + i}.example"],"subject":{}},`;
    return { ...f, lite: f.lite.replace('{"data":{', leaf), full: f.full.replace('{"data":{', leaf) };
  });
}

test('a filtered client gets exactly the matching frames of the unfiltered stream, byte-identical, on every stream', async (t) => {
  const h = await startHub();
  t.after(() => h.close());
  for (const path of ['/', '/full-stream', '/domains-only']) {
    const plain = await record(`${h.url}${path}`);
    // d7, d17, d70…: a substring rule; d3.example and its subdomains (none): a domain rule; =d12.example exact.
    const filtered = await record(`${h.url}${path}?match=${encodeURIComponent('~7,D3.example,=d12.EXAMPLE')}`);
    h.hub.publish(frames(LOG, 0, 300));
    await waitUntil('the unfiltered stream', 5000, () => plain.raw.length === 300);
    await caughtUp(filtered.ws);
    const expected = plain.raw.filter((_, i) => sevens(i) || i === 3 || i === 12);
    assert.ok(expected.length > 10 && expected.length < 300);
    assert.deepEqual(filtered.raw, expected, path);
    plain.ws.close();
    filtered.ws.close();
    await waitUntil('clients gone', 5000, () => h.hub.clientCount === 0);
  }
  const perRound = Array.from({ length: 300 }, (_, i) => i).filter((i) => sevens(i) || i === 3 || i === 12).length;
  assert.equal(await metricValue(h.metrics, 'certstream_filter_entries_matched_total', {}), 3 * perRound);
});

test('heartbeats still flow to a filtered client that nothing matches', async (t) => {
  const h = await startHub({ heartbeatIntervalMs: 20 });
  t.after(() => h.close());
  const filtered = await record(`${h.url}/?match=nothing.invalid`);
  h.hub.publish(frames(LOG, 0, 50));
  await waitUntil('three heartbeats', 5000, () => filtered.heartbeats() >= 3);
  assert.deepEqual(filtered.indexes(), []);
});

test('clients with the same normalised rules share one compiled set, released with the last of them', async (t) => {
  const h = await startHub();
  t.after(() => h.close());
  const sets = () => metricValue(h.metrics, 'certstream_filter_sets', {});
  const filteredLite = () => metricValue(h.metrics, 'certstream_filtered_clients', { stream: 'lite' });
  assert.equal(await sets(), 0);
  const a = await record(`${h.url}/?match=${encodeURIComponent('a.example,~7')}`);
  const b = await record(`${h.url}/?match=${encodeURIComponent('~7,*.A.example')}`);
  const c = await record(`${h.url}/domains-only?match=${encodeURIComponent('A.example,~7,~7')}`);
  assert.equal(await sets(), 1, 'three clients, one set');
  assert.equal(await filteredLite(), 2);
  assert.equal(await metricValue(h.metrics, 'certstream_filtered_clients', { stream: 'domains' }), 1);
  assert.equal(await metricValue(h.metrics, 'certstream_clients', { stream: 'lite' }), 2, 'filtered clients count as clients');
  h.hub.publish(frames(LOG, 0, 100));
  await waitUntil('both', 5000, () => a.indexes().length === 19 && b.indexes().length === 19 && c.indexes().length === 19);
  // 19 entries matched one set once each: the set is matched once per entry, not once per client.
  assert.equal(await metricValue(h.metrics, 'certstream_filter_entries_matched_total', {}), 19);
  const d = await record(`${h.url}/?match=b.example`);
  assert.equal(await sets(), 2);
  for (const r of [a, b, c, d]) r.ws.close();
  await waitUntil('every set released', 5000, async () => (await sets()) === 0 && (await filteredLite()) === 0);
});

test('a new rule set beyond the bounds gets 503, counted; a set already compiled is still shared', async (t) => {
  const h = await startHub({ maxFilterSets: 1 });
  t.after(() => h.close());
  const a = await record(`${h.url}/?match=a.example`);
  const res = await refusal(`${h.url}/?match=b.example`);
  assert.equal(res.status, 503);
  assert.match(res.body, /^the server holds 1 distinct match rule sets/);
  assert.equal(await metricValue(h.metrics, 'certstream_filter_refused_total', { reason: 'sets' }), 1);
  const same = await record(`${h.url}/full-stream?match=A.example`);
  a.ws.close();
  same.ws.close();
  await Promise.all([closed(a.ws), closed(same.ws)]);
  const small = await startHub({ maxFilterBytes: 20 });
  t.after(() => small.close());
  assert.equal((await refusal(`${small.url}/?match=a-rather-long-domain.example`)).status, 503);
  assert.equal(await metricValue(small.metrics, 'certstream_filter_refused_total', { reason: 'bytes' }), 1);
});

test('a durable filtered client resumes after a cut with nothing lost, from memory and disk, while publishing goes on', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'filter-'));
  const window = LocalReplayWindow.open({ stateDir: dir, windowSeconds: 3600, maxBytes: 1e9, cacheBytes: 64 * 1024, segmentBytes: 256 * 1024 });
  const positions = await PositionStore.open({ stateDir: dir, beforeWrite: () => window.sync() });
  const h = await startHub({ metrics: createServerMetrics({ processMetrics: false }), clientBufferBytes: 32 * 1024, durable: { window, positions, pingIntervalMs: 20, pongTimeoutMs: 2000 } });
  t.after(async () => {
    await h.close();
    await positions.close();
    await window.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const seen = Math.floor(Date.now() / 1000) - 1000;
  const publish = (from: number, count: number, padding = 0) =>
    h.hub.publish(frames(LOG, from, count, padding).map((f, i): StreamFrames => ({ ...f, log: LOG, index: from + i, seen: seen + from / 1000 })));
  const url = `${h.url}/?id=filtered&match=~7`;
  publish(0, 100);
  const r1 = await record(url);
  publish(100, 500);
  const live = Array.from({ length: 500 }, (_, i) => 100 + i).filter(sevens);
  await waitUntil('the live matching frames', 5000, () => r1.indexes().length === live.length);
  assert.deepEqual(r1.indexes(), live, 'an unknown NAME starts live, filtered');
  // Its position is a seq of the whole window: 600, past the last entry it passed (597).
  await waitUntil('position confirmed', 5000, () => positions.get('filtered', 'lite') === 600);
  r1.ws.terminate();
  await waitUntil('client gone', 5000, () => h.hub.clientCount === 0);
  for (let i = 600; i < 3600; i += 100) publish(i, 100, 200); // missed while away, mostly out of the memory cache
  const r2 = await record(url);
  let next = 3600;
  const publisher = setInterval(() => {
    publish(next, 50, 200);
    next += 50;
  }, 2);
  await waitUntil('5,000 entries published', 10_000, () => next >= 5000);
  clearInterval(publisher);
  const end = next;
  const missed = Array.from({ length: end - 600 }, (_, i) => 600 + i).filter(sevens);
  await waitUntil('every matching entry', 10_000, () => r2.indexes().length >= missed.length);
  await caughtUp(r2.ws);
  assert.deepEqual(r2.indexes(), missed, 'exactly the matching entries it missed, in order, none lost');
  // since with match: the matching entries of the whole window.
  const since = await record(`${h.url}/domains-only?since=0&match=~7`);
  const all = Array.from({ length: end }, (_, i) => i).filter(sevens);
  await waitUntil('the since replay', 10_000, () => since.indexes().length >= all.length);
  await caughtUp(since.ws);
  assert.deepEqual(since.indexes(), all);
});

test('the client library with match: only the matching entries, and the entries left out are no gap', async (t) => {
  const h = await startHub();
  t.after(() => h.close());
  const sub = subscribe(`${h.url}/`, { match: '~7' });
  t.after(() => sub.close());
  const got: number[] = [];
  const gaps: unknown[] = [];
  sub.on('entry', (m) => got.push(m.data.cert_index));
  sub.on('gap', (g) => gaps.push(g));
  await new Promise<void>((resolve) => sub.once('connect', () => resolve()));
  await waitUntil('the server registered it', 5000, () => h.hub.clientCount === 1);
  h.hub.publish(frames(LOG, 0, 100));
  const expected = Array.from({ length: 100 }, (_, i) => i).filter(sevens);
  await waitUntil('the matching entries', 5000, () => got.length === expected.length);
  assert.deepEqual(got, expected);
  assert.deepEqual(gaps, []);
});
