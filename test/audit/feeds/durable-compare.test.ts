/**
 * Issue 9 §5: `certaudit compare` works on a durable feed URL like on any other. The same cut as in
 * server-reconnect.test.ts, side by side: feed a is a plain client behind the cut, feed c a durable one
 * (`?id=`) behind the same cut, feed b the steady reference. The plain feed's reconnect loss is exactly
 * what the logs appended during the cut; the durable feed's is 0.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WsFeedSource } from '../../../src/audit/feeds/feed-source.js';
import { normaliseLogUrl } from '../../../src/audit/feeds/feed-frame.js';
import { LiveCompare } from '../../../src/audit/compare/live-compare.js';
import { EventWaiter } from '../support/event-waiter.js';
import { serverBehindProxy } from '../support/server-behind-proxy.js';

test('a durable feed cut off like a plain one shows no reconnect loss', async (t) => {
  const { fake, proxy, wsUrl } = await serverBehindProxy(t, { durablePingIntervalMs: 50 });
  const tuning = { backoffBaseMs: 20, backoffMaxMs: 50 };
  const logs = fake.logs.map((l) => l.url);
  const w = new EventWaiter();
  const got: Record<string, Set<string>> = { a: new Set(), b: new Set() };
  const compare = (cut: string) =>
    new LiveCompare({
      sources: { a: new WsFeedSource(cut, tuning), b: new WsFeedSource(wsUrl, tuning) },
      graceMs: 0,
      judgeIntervalMs: 3_600_000,
      onEvent: (feed, e) => {
        if (e.ev === 'entry') got[feed].add(`${cut} ${feed} ${e.log} ${e.index}`);
        w.push(`${cut} ${feed}`, e);
      },
    });
  const plainUrl = `ws://127.0.0.1:${proxy.port}/`;
  const durableUrl = `ws://127.0.0.1:${proxy.port}/?id=audited`;
  const plain = compare(plainUrl);
  const durable = compare(durableUrl);
  plain.start();
  durable.start();
  t.after(() => Promise.all([plain.stop(), durable.stop()]).then(() => undefined));
  await Promise.all([plainUrl, durableUrl].flatMap((u) => [w.untilCount(`${u} a`, 'connect', 1), w.untilCount(`${u} b`, 'connect', 1)]));
  const has = (u: string, feed: string) => logs.every((l) => got[feed].has(`${u} ${feed} ${normaliseLogUrl(l)} ${fake.size(l) - 1}`));
  const all = () => has(plainUrl, 'a') && has(plainUrl, 'b') && has(durableUrl, 'a') && has(durableUrl, 'b');

  fake.append(20);
  await w.until(all);
  proxy.cutAll();
  await Promise.all([w.untilCount(`${plainUrl} a`, 'disconnect', 1), w.untilCount(`${durableUrl} a`, 'disconnect', 1)]);
  fake.append(15);
  await w.until(() => has(plainUrl, 'b') && has(durableUrl, 'b'));
  proxy.restore();
  await Promise.all([w.untilCount(`${plainUrl} a`, 'connect', 2), w.untilCount(`${durableUrl} a`, 'connect', 2)]);
  fake.append(10);
  await w.until(all);
  const [p, d] = await Promise.all([plain.stop(), durable.stop()]);
  for (const l of p.logs) assert.equal(l.reconnect_loss_a, 15, `plain ${l.log}`);
  for (const l of d.logs) {
    assert.equal(l.reconnect_loss_a, 0, `durable ${l.log}`);
    assert.equal(l.missed_by_a, 0, `durable ${l.log}`);
    assert.equal(l.gaps_a, 0, `durable ${l.log}`);
  }
  assert.equal(d.feeds.a.disconnects, 1);
});
