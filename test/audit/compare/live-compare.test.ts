/**
 * Ground-truth tests of the live comparison: two fake certstream feeds with known drops and a known
 * outage, real WebSocket clients, a virtual clock set by the test (arrival times are exact), and the
 * recordings of the same run replayed into the same report.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WsFeedSource } from '../../../src/audit/feeds/feed-source.js';
import { LiveCompare } from '../../../src/audit/compare/live-compare.js';
import { Recorder } from '../../../src/audit/recording/recorder.js';
import { compareRecordings } from '../../../src/audit/recording/recording-replay.js';
import { FakeFeed } from '../support/fake-feed.js';
import { EventWaiter } from '../support/event-waiter.js';

const T0 = 1_800_000_000_000;
const LOG1 = 'https://ct.example.net/log1/';
const LOG2_A = 'https://ct.example.net/log2/';
const LOG2_B = 'http://ct.example.net/log2';

test('two fake feeds with known drops and an outage: the report equals the ground truth, live and from recordings', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'certaudit-live-'));
  const fa = await FakeFeed.start();
  const fb = await FakeFeed.start();
  let clock = T0;
  const now = () => clock;
  const tuning = { now, backoffBaseMs: 20, backoffMaxMs: 50, pingIntervalMs: 600_000 };
  const w = new EventWaiter();
  const live = new LiveCompare({
    sources: { a: new WsFeedSource(fa.url, tuning), b: new WsFeedSource(fb.url, tuning) },
    graceMs: 60_000,
    judgeIntervalMs: 3_600_000,
    now,
    onEvent: w.push,
  });
  const recA = await Recorder.start({ source: new WsFeedSource(fa.url, tuning), out: join(dir, 'a.ndjson'), now, onEvent: (e) => w.push('ra', e) });
  const recB = await Recorder.start({ source: new WsFeedSource(fb.url, tuning), out: join(dir, 'b.ndjson'), now, onEvent: (e) => w.push('rb', e) });
  live.start();
  try {
    await Promise.all(['a', 'b', 'ra', 'rb'].map((f) => w.untilCount(f, 'connect', 1)));
    const dropA = new Set([10, 20, 30]);
    const dropB = new Set([50, 51]);
    // Phase 1: both up.
    clock = T0 + 1_000;
    let sentA = 0;
    let sentB = 0;
    const sendA = async (log: string, i: number) => {
      await fa.send(log, i);
      sentA++;
    };
    const sendB = async (log: string, i: number) => {
      await fb.send(log, i);
      sentB++;
    };
    for (let i = 0; i < 100; i++) {
      if (!dropB.has(i)) await sendB(LOG1, i);
      if (!dropA.has(i)) await sendA(LOG1, i);
    }
    for (let i = 0; i < 10; i++) await sendA(LOG2_A, i);
    for (let i = 5; i < 15; i++) await sendB(LOG2_B, i);
    await fa.heartbeat();
    await Promise.all([
      w.untilCount('a', 'entry', sentA), w.untilCount('ra', 'entry', sentA),
      w.untilCount('b', 'entry', sentB), w.untilCount('rb', 'entry', sentB),
      w.untilCount('a', 'heartbeat', 1), w.untilCount('ra', 'heartbeat', 1),
    ]);
    // Phase 2: feed a closes its clients and refuses them; b delivers 100..119 meanwhile.
    clock = T0 + 2_000;
    await fa.closeClients(1001);
    await Promise.all([w.untilCount('a', 'disconnect', 1), w.untilCount('ra', 'disconnect', 1)]);
    clock = T0 + 2_500;
    for (let i = 100; i < 120; i++) await sendB(LOG1, i);
    await Promise.all([w.untilCount('b', 'entry', sentB), w.untilCount('rb', 'entry', sentB)]);
    clock = T0 + 3_000;
    fa.reopen();
    await Promise.all([w.untilCount('a', 'connect', 2), w.untilCount('ra', 'connect', 2)]);
    // Phase 3: both up again.
    clock = T0 + 4_000;
    for (let i = 120; i < 150; i++) {
      await sendB(LOG1, i);
      await sendA(LOG1, i);
    }
    await Promise.all([
      w.untilCount('a', 'entry', sentA), w.untilCount('ra', 'entry', sentA),
      w.untilCount('b', 'entry', sentB), w.untilCount('rb', 'entry', sentB),
    ]);
    clock = T0 + 100_000;
    const report = await live.stop();
    await recA.stop();
    await recB.stop();

    const log1 = {
      log: 'ct.example.net/log1', seen_a: 127, seen_b: 148, union: 150, missed_by_a: 23, missed_by_b: 2,
      gaps_a: 23, gaps_b: 2, reconnect_loss_a: 20, reconnect_loss_b: 0,
    };
    const log2 = {
      log: 'ct.example.net/log2', seen_a: 5, seen_b: 10, union: 10, missed_by_a: 5, missed_by_b: 0,
      gaps_a: 0, gaps_b: 0, reconnect_loss_a: 0, reconnect_loss_b: 0,
    };
    assert.deepEqual(report.logs, [log1, log2]);
    assert.deepEqual(report.totals, {
      union: 160, missed_by_a: 28, missed_by_b: 2, miss_ratio_a: 0.175, miss_ratio_b: 0.0125,
      reconnect_loss_a: 20, reconnect_loss_b: 0,
    });
    assert.deepEqual(report.window, { start: T0 / 1000, end: (T0 + 100_000) / 1000 });
    assert.deepEqual(report.feeds.a, { url: fa.url, connects: 2, disconnects: 1, downtime_seconds: 1, messages: sentA + 1 });
    assert.deepEqual(report.feeds.b, { url: fb.url, connects: 1, disconnects: 0, downtime_seconds: 0, messages: sentB });
    const history = live.comparator.connections.a.history;
    assert.deepEqual(history[1], { t: T0 + 2_000, kind: 'disconnect', code: 1001, reason: 'fake feed outage' });

    const replay = await compareRecordings(join(dir, 'a.ndjson'), join(dir, 'b.ndjson'), 60_000);
    assert.deepEqual(replay.report, report, 'the recordings give the report the live run gave');
    const firstLine = (await readFile(join(dir, 'a.ndjson'), 'utf8')).split('\n')[0];
    assert.deepEqual(JSON.parse(firstLine), { ev: 'start', t: T0, feed: fa.url, v: 1 });
  } finally {
    await live.stop();
    await fa.close();
    await fb.close();
    await rm(dir, { recursive: true, force: true });
  }
});
