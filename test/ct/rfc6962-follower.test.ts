import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { X509Certificate } from 'node:crypto';
import { FakeCtLog } from '../../fake-ct-log/fake-ct-log.js';
import { HttpClient } from '../../src/ct/http-client.js';
import { Rfc6962Follower } from '../../src/ct/rfc6962-follower.js';
import { createLogger } from '../../src/log/logger.js';
import { range } from '../support/entry-collector.js';
import { fakeDescriptors, followerHarness } from '../support/follower-deps.js';

describe('Rfc6962Follower against the fake CT log', () => {
  let fake: FakeCtLog;
  before(async () => {
    fake = await FakeCtLog.start({ rfc6962Logs: 3, staticLogs: 0, initialSize: 1000, maxGetEntries: 32 });
  });
  after(() => fake.close());

  it('backfills from the head, in order, learns the 32-entry cap, then follows growth', async () => {
    const log = fakeDescriptors(fake)[0];
    const h = await followerHarness(log, { backfill: 100 });
    const f = new Rfc6962Follower(h.deps, { windows: 2, requestSize: 1024 });
    try {
      f.start();
      await h.collector.until(log.url, 1000);
      assert.deepEqual(h.collector.indices(log.url), range(900, 1000));
      assert.equal(f.maxEntriesPerResponse, 32);
      fake.append(77, log.url);
      await h.collector.until(log.url, 1077);
      assert.deepEqual(h.collector.indices(log.url), range(900, 1077));
      for (const e of h.collector.byLog.get(log.url) ?? []) {
        assert.doesNotThrow(() => new X509Certificate(e.leaf), `leaf ${e.index} is a certificate`);
        assert.ok(e.chain.length >= 1, `entry ${e.index} has a chain`);
      }
      assert.equal(fake.requests.lastUserAgent, 'certstream-server-test/1 (test@example.invalid)');
      assert.equal(h.cursors.get(log.url), 1077);
      assert.deepEqual(f.status().next_index, 1077);
    } finally {
      await f.stop();
      await h.close();
    }
  });

  it('honours Retry-After in both forms: the next request waits what the log asked for', async () => {
    const log = fakeDescriptors(fake)[2];
    // The HTTP-date form is read against an injected clock, so the asked delay is exact: 2 s (HTTP dates have whole seconds).
    const clock = Math.floor(Date.now() / 1000) * 1000;
    const records: Record<string, unknown>[] = [];
    const logger = createLogger({ write: (line) => void records.push(JSON.parse(line) as Record<string, unknown>) });
    const h = await followerHarness(log, { backfill: 8, logger, maxRetryAfterMs: 10_000 });
    h.deps.http = new HttpClient({ userAgent: 'certstream-server-test/1', timeoutMs: 2000, now: () => clock });
    fake.injectFault(log.url, { status: 429, retryAfter: '1' });
    fake.injectFault(log.url, { status: 429, retryAfter: new Date(clock + 2000).toUTCString() });
    const arrivals: number[] = [];
    const prefix = new URL(log.url).pathname.slice(1);
    const off = fake.onArrival((path) => {
      if (path.startsWith(prefix)) arrivals.push(performance.now());
    });
    const f = new Rfc6962Follower(h.deps);
    try {
      f.start();
      const size = fake.size(log.url);
      await h.collector.until(log.url, size);
      assert.deepEqual(h.collector.indices(log.url), range(size - 8, size));
      const waits = records.filter((r) => r.msg === 'log rate-limited us, backing off').map((r) => r.retry_in_ms);
      assert.deepEqual(waits, [1000, 2000], 'the delays asked for, not the 5-20 ms backoff');
      // On the wire: the request after each 429 came no earlier than asked (lower bounds only; load can only add).
      assert.ok(arrivals[1] - arrivals[0] >= 1000 - 5, `second request after ${arrivals[1] - arrivals[0]} ms`);
      assert.ok(arrivals[2] - arrivals[1] >= 2000 - 5, `third request after ${arrivals[2] - arrivals[1]} ms`);
    } finally {
      off();
      await f.stop();
      await h.deps.http.close();
      await h.close();
    }
  });

  it('backs off on 429, 500, a slow answer, garbage JSON and a hanging socket, and loses nothing', async () => {
    const log = fakeDescriptors(fake)[1];
    const h = await followerHarness(log, { backfill: 64 }, 200);
    fake.injectFault(log.url, { status: 429, retryAfter: '0' });
    fake.injectFault(log.url, { status: 429, retryAfter: new Date(Date.now() - 1000).toUTCString() });
    fake.injectFault(log.url, { delayMs: 50 });
    fake.injectFault(log.url, { status: 500 });
    fake.injectFault(log.url, { status: 200, body: '{"entries": [garbage' });
    fake.injectFault(log.url, { hang: true });
    const f = new Rfc6962Follower(h.deps);
    try {
      f.start();
      const size = fake.size(log.url);
      await h.collector.until(log.url, size);
      assert.deepEqual(h.collector.indices(log.url), range(size - 64, size));
      const errors = await h.deps.metrics.logErrors.get();
      const kinds = Object.fromEntries(errors.values.map((v) => [v.labels.kind, v.value]));
      assert.deepEqual(kinds, { rate_limited: 2, http: 1, parse: 1, timeout: 1 });
      assert.equal(f.status().last_error, null, 'last_error clears after a success');
    } finally {
      await f.stop();
      await h.close();
    }
  });

  it('a log that keeps failing does not hold back another log', async () => {
    const [bad, good] = fakeDescriptors(fake);
    fake.injectFault(bad.url, { status: 503, times: 1_000_000 });
    const hb = await followerHarness(bad, { backfill: 10 });
    const hg = await followerHarness(good, { backfill: 10 });
    const fb = new Rfc6962Follower(hb.deps);
    const fg = new Rfc6962Follower(hg.deps);
    try {
      fb.start();
      fg.start();
      await hg.collector.until(good.url, fake.size(good.url));
      fake.append(5, good.url);
      await hg.collector.until(good.url, fake.size(good.url));
      assert.equal(hg.collector.indices(good.url).length, 15);
      assert.equal(hb.collector.indices(bad.url).length, 0);
      assert.match(fb.status().last_error ?? '', /HTTP 503/);
    } finally {
      await fb.stop();
      await fg.stop();
      await hb.close();
      await hg.close();
    }
  });
});
