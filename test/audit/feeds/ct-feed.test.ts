/**
 * `--b ct`: the reference set is what the (fake) CT logs appended during the window, read from their
 * heads (RFC 6962 STH and static-ct-api checkpoint) at the start and the end.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeCtLog } from '../../../fake-ct-log/fake-ct-log.js';
import { CtFeedSource, fetchHead, loadLogs } from '../../../src/audit/feeds/ct-feed.js';
import { HeadVerifier } from '../../../src/verify/head-verifier.js';
import { HttpClient } from '../../../src/ct/http-client.js';
import type { FeedEvent } from '../../../src/audit/feeds/feed-event.js';
import { normaliseLogUrl } from '../../../src/audit/feeds/feed-frame.js';
import { WsFeedSource } from '../../../src/audit/feeds/feed-source.js';
import { LiveCompare } from '../../../src/audit/compare/live-compare.js';
import { FakeFeed } from '../support/fake-feed.js';
import { EventWaiter } from '../support/event-waiter.js';

test('the ct feed turns head growth of both log kinds into ranges', async () => {
  const fake = await FakeCtLog.start({ rfc6962Logs: 1, staticLogs: 1, initialSize: 100 });
  const dir = await mkdtemp(join(tmpdir(), 'certaudit-ct-'));
  try {
    const listFile = join(dir, 'log_list.json');
    await fake.writeLogList(listFile);
    const [rfc, tiled] = [fake.logs.find((l) => l.kind === 'rfc6962')!, fake.logs.find((l) => l.kind === 'static')!];
    const events: FeedEvent[] = [];
    const w = new EventWaiter();
    const ct = new CtFeedSource({ logList: listFile, pollIntervalMs: 3_600_000 });
    ct.start((e) => {
      events.push(e);
      w.push('ct', e);
    });
    await w.untilCount('ct', 'connect', 1);
    assert.equal(ct.everConnected, true);
    fake.append(50, rfc.url);
    fake.append(300, tiled.url);
    await ct.stop();
    const ranges = events.filter((e) => e.ev === 'range').map((e) => (e.ev === 'range' ? [e.log, e.lo, e.hi] : []));
    assert.deepEqual(ranges.sort(), [
      [normaliseLogUrl(rfc.url), 100, 149],
      [normaliseLogUrl(tiled.url), 100, 399],
    ].sort());
  } finally {
    await fake.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('compare --b ct: every entry a feed missed during the window is counted', async () => {
  const fake = await FakeCtLog.start({ rfc6962Logs: 1, staticLogs: 1, initialSize: 100 });
  const feed = await FakeFeed.start();
  const w = new EventWaiter();
  const ct = new CtFeedSource({ logList: fake.logListUrl, pollIntervalMs: 3_600_000 });
  const live = new LiveCompare({
    sources: { a: new WsFeedSource(feed.url), b: ct },
    reference: 'b',
    graceMs: 0,
    judgeIntervalMs: 3_600_000,
    onEvent: w.push,
  });
  live.start();
  try {
    const [rfc, tiled] = [fake.logs.find((l) => l.kind === 'rfc6962')!, fake.logs.find((l) => l.kind === 'static')!];
    await Promise.all([w.untilCount('a', 'connect', 1), w.untilCount('b', 'connect', 1)]);
    fake.append(40, rfc.url);
    fake.append(20, tiled.url);
    // The feed (standing in for a server) streams the new entries, losing 105..109 and the last two of
    // the tiled log, and also something from before the window (not judged).
    let sent = 0;
    for (let i = 95; i < 140; i++) {
      if (i >= 105 && i < 110) continue;
      await feed.send(rfc.url, i);
      sent++;
    }
    for (let i = 100; i < 118; i++) {
      await feed.send(tiled.url, i);
      sent++;
    }
    await w.untilCount('a', 'entry', sent);
    const report = await live.stop();
    assert.deepEqual(
      report.logs.map((l) => [l.log, l.union, l.seen_a, l.seen_b, l.missed_by_a, l.missed_by_b, l.gaps_a]),
      [
        [normaliseLogUrl(rfc.url), 40, 35, 40, 5, 0, 5],
        [normaliseLogUrl(tiled.url), 20, 18, 20, 2, 0, 0],
      ],
    );
    assert.equal(report.totals.miss_ratio_a, 0.116667);
    assert.equal(report.feeds.b.url, `ct (${fake.logListUrl})`);
  } finally {
    await live.stop();
    await feed.close();
    await fake.close();
  }
});

test('the ct feed refuses a checkpoint whose origin names another log (the daemon\'s check)', async () => {
  const fake = await FakeCtLog.start({ rfc6962Logs: 0, staticLogs: 1, initialSize: 100 });
  const http = new HttpClient({ userAgent: 'certaudit-test', timeoutMs: 5_000 });
  try {
    const [log] = await loadLogs(fake.logListUrl, http, Date.now());
    assert.equal(await fetchHead(log, http), 100);
    const foreign = `other.example/log\n5000\n${'A'.repeat(43)}=\n\n— other.example/log sig=\n`;
    fake.injectFault(fake.logs[0].url, { status: 200, body: foreign });
    await assert.rejects(fetchHead(log, http), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'CT_ERR_ORIGIN_MISMATCH');
      assert.match(err.message, /origin "other\.example\/log"/);
      return true;
    });
  } finally {
    await http.close();
    await fake.close();
  }
});

test('the ct feed verifies the heads it reads with the server\'s code: a bad signature or a forked head is refused, not used', async () => {
  const fake = await FakeCtLog.start({ rfc6962Logs: 1, staticLogs: 1, initialSize: 100 });
  const http = new HttpClient({ userAgent: 'certaudit-test', timeoutMs: 5_000 });
  try {
    for (const log of await loadLogs(fake.logListUrl, http, Date.now())) {
      const heads = new HeadVerifier();
      assert.equal(await fetchHead(log, http, undefined, heads), 100);
      fake.misbehave(log.url, { kind: 'bad-signature' });
      await assert.rejects(fetchHead(log, http, undefined, heads), (err: Error & { code?: string }) => err.code === 'VERIFY_ERR_SIGNATURE');
      fake.behave(log.url);
      fake.misbehave(log.url, { kind: 'fork' });
      await assert.rejects(fetchHead(log, http, undefined, heads), (err: Error & { code?: string }) => err.code === 'VERIFY_ERR_INCONSISTENT');
      fake.behave(log.url);
    }
  } finally {
    await http.close();
    await fake.close();
  }
});
