/**
 * Issue 6 §5, end to end: the real certstream-server follows the fake CT log; certaudit compares a
 * client whose connection is cut for a known stretch (through a TCP proxy) with a steady client. The
 * entries the logs appended during the cut are exactly the report's misses and reconnect loss.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WsFeedSource } from '../../../src/audit/feeds/feed-source.js';
import { normaliseLogUrl } from '../../../src/audit/feeds/feed-frame.js';
import { LiveCompare } from '../../../src/audit/compare/live-compare.js';
import { EventWaiter } from '../support/event-waiter.js';
import { serverBehindProxy } from '../support/server-behind-proxy.js';

test('a client cut off from the real server misses exactly what the logs appended meanwhile', async (t) => {
  const { fake, proxy, wsUrl } = await serverBehindProxy(t);
  const tuning = { backoffBaseMs: 20, backoffMaxMs: 50 };
  const w = new EventWaiter();
  const got: Record<string, Set<string>> = { a: new Set(), b: new Set() };
  const live = new LiveCompare({
    sources: { a: new WsFeedSource(`ws://127.0.0.1:${proxy.port}/`, tuning), b: new WsFeedSource(wsUrl, tuning) },
    graceMs: 0,
    judgeIntervalMs: 3_600_000,
    onEvent: (feed, e) => {
      if (e.ev === 'entry') got[feed].add(`${e.log} ${e.index}`);
      w.push(feed, e);
    },
  });
  live.start();
  t.after(() => live.stop().then(() => undefined));
  await Promise.all([w.untilCount('a', 'connect', 1), w.untilCount('b', 'connect', 1)]);
  const logs = fake.logs.map((l) => l.url);
  /** Both (or one) clients have the last entry of every log. */
  const reached = (feeds: string[]) => () =>
    feeds.every((f) => logs.every((l) => got[f].has(`${normaliseLogUrl(l)} ${fake.size(l) - 1}`)));

  fake.append(20);
  await w.until(reached(['a', 'b']));
  proxy.cutAll();
  await w.untilCount('a', 'disconnect', 1);
  fake.append(15);
  await w.until(reached(['b']));
  proxy.restore();
  await w.untilCount('a', 'connect', 2);
  fake.append(10);
  await w.until(reached(['a', 'b']));
  const report = await live.stop();

  assert.equal(report.logs.length, 2);
  for (const l of report.logs) {
    assert.deepEqual(
      { ...l, log: '' },
      { log: '', seen_a: 30, seen_b: 45, union: 45, missed_by_a: 15, missed_by_b: 0, gaps_a: 15, gaps_b: 0, reconnect_loss_a: 15, reconnect_loss_b: 0 },
      l.log,
    );
  }
  assert.deepEqual(report.logs.map((l) => l.log).sort(), logs.map(normaliseLogUrl).sort());
  assert.equal(report.feeds.a.disconnects, 1);
  assert.equal(report.feeds.a.connects, 2);
  assert.equal(report.totals.miss_ratio_a, 0.333333);
});
