/**
 * Isolation between logs that share a cache or a host (issue 14 items 1 and 2): one log's cancelled
 * round must not fail another log's issuer lookup, and one hanging log must not starve the healthy
 * logs on the same origin of connections.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FakeCtLog } from '../../fake-ct-log/fake-ct-log.js';
import { Ingest } from '../../src/ct/ingest.js';
import { IssuerCache } from '../../src/ct/issuer-cache.js';
import { StaticFollower } from '../../src/ct/static-follower.js';
import { silentLogger } from '../../src/log/logger.js';
import { createServerMetrics, type ServerMetrics } from '../../src/metrics/server-metrics.js';
import { EntryCollector, range } from '../support/entry-collector.js';
import { fakeDescriptors, followerHarness } from '../support/follower-deps.js';

/** Errors counted for one log, by kind. */
async function errorsOf(metrics: ServerMetrics, log: string): Promise<Record<string, number>> {
  const all = await metrics.logErrors.get();
  // Only the kinds that counted something (every kind exists from the start at 0).
  return Object.fromEntries(all.values.filter((v) => v.labels.log === log && v.value > 0).map((v) => [v.labels.kind, v.value]));
}

/** Resolves when `test()` holds, checked on every call of the returned `poke`; rejects after `ms`. */
function condition(test: () => boolean, ms: number, what: string): { done: Promise<void>; poke: () => void } {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const done = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  const poke = () => {
    if (!test()) return;
    clearTimeout(timer);
    resolve();
  };
  return { done, poke };
}

describe('one log cancelling its round does not fail the issuer lookups of other logs', () => {
  let fake: FakeCtLog;
  before(async () => {
    fake = await FakeCtLog.start({ rfc6962Logs: 0, staticLogs: 3, initialSize: 256 });
  });
  after(() => fake.close());

  it('the shared issuer fetch outlives the follower that started it', async () => {
    const [a, b, c] = fakeDescriptors(fake);
    // Log a's first issuer request is answered only after a while: the fetch is in flight when a stops.
    fake.injectFault(a.url, { delayMs: 1500, only: 'issuer/' });
    let delayed: string | undefined;
    const aPrefix = new URL(a.url).pathname.slice(1);
    const offArrival = fake.onArrival((path) => {
      if (delayed === undefined && path.startsWith(`${aPrefix}issuer/`)) delayed = path.slice(-64);
    });
    const ha = await followerHarness(a, { backfill: 256 }, 5000);
    const hb = await followerHarness(b, { backfill: 256 }, 5000);
    const hc = await followerHarness(c, { backfill: 256 }, 5000);
    // One cache shared by the three logs, as in Ingest; it records who waits for which issuer.
    const waiting: { log: string; fp: string }[] = [];
    const asked = condition(
      () => delayed !== undefined && [b.url, c.url].every((u) => waiting.some((w) => w.log === u && w.fp === delayed)),
      10_000,
      'logs b and c to wait for the delayed issuer',
    );
    class RecordingCache extends IssuerCache {
      override get(monitoringUrl: string, fingerprint: string, signal?: AbortSignal): Promise<Uint8Array> {
        waiting.push({ log: monitoringUrl, fp: fingerprint });
        asked.poke();
        return super.get(monitoringUrl, fingerprint, signal);
      }
    }
    const issuers = new RecordingCache(ha.http);
    const fa = new StaticFollower(ha.deps, { issuers });
    const fb = new StaticFollower(hb.deps, { issuers });
    const fc = new StaticFollower(hc.deps, { issuers });
    try {
      fa.start();
      const arrived = condition(() => delayed !== undefined, 10_000, "log a's issuer request");
      const offPoke = fake.onArrival(() => queueMicrotask(arrived.poke));
      await arrived.done;
      offPoke();
      fb.start();
      fc.start();
      await asked.done;
      await fa.stop(); // a's round is cancelled while b and c wait for the same issuer
      await Promise.all([hb.collector.until(b.url, 256), hc.collector.until(c.url, 256)]);
      assert.deepEqual(hb.collector.indices(b.url), range(0, 256));
      assert.deepEqual(hc.collector.indices(c.url), range(0, 256));
      assert.deepEqual(await errorsOf(hb.deps.metrics, b.url), {}, 'log b saw no error');
      assert.deepEqual(await errorsOf(hc.deps.metrics, c.url), {}, 'log c saw no error');
      assert.equal(fb.status().last_error, null);
      assert.equal(fc.status().last_error, null);
      const distinct = new Set(waiting.map((w) => w.fp));
      assert.equal(issuers.fetches, distinct.size, 'each issuer fetched once: the cancelled wait did not cancel the fetch');
    } finally {
      offArrival();
      await Promise.all([fa.stop(), fb.stop(), fc.stop()]);
      await Promise.all([ha.close(), hb.close(), hc.close()]);
    }
  });
});

describe('logs on one origin do not share a connection pool', () => {
  let fake: FakeCtLog;
  let dir: string;
  before(async () => {
    fake = await FakeCtLog.start({ rfc6962Logs: 2, staticLogs: 0, initialSize: 8 * 1024, maxGetEntries: 64 });
    dir = await mkdtemp(join(tmpdir(), 'certstream-isolation-'));
  });
  after(async () => {
    await fake.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('a log whose get-entries hang on 8 windows does not make the healthy log on the same host time out', async () => {
    const [hanging, healthy] = fake.logs;
    fake.injectFault(hanging.url, { hang: true, only: 'get-entries', times: 1_000_000 });
    const metrics = createServerMetrics({ processMetrics: false });
    const collector = new EntryCollector();
    const ingest = await Ingest.open({
      logList: fake.logListUrl,
      stateDir: dir,
      backfill: 8 * 1024,
      pollIntervalMs: 50,
      userAgent: 'certstream-server-test/1 (test@example.invalid)',
      refreshIntervalMs: 0,
      requestTimeoutMs: 1500,
      // 8 windows of 1024 entries each: the hanging log has as many requests in flight as a pool had sockets.
      windows: 8,
      backoff: { baseMs: 5, maxMs: 20 },
      metrics,
      logger: silentLogger,
      sink: collector.sink,
    });
    try {
      ingest.start();
      await collector.until(healthy.url, 8 * 1024);
      fake.append(512, healthy.url);
      await collector.until(healthy.url, 8 * 1024 + 512);
      assert.deepEqual(collector.indices(healthy.url), range(0, 8 * 1024 + 512));
      assert.deepEqual(await errorsOf(metrics, healthy.url), {}, 'the healthy log saw no timeout');
      assert.equal(collector.indices(hanging.url).length, 0);
    } finally {
      await ingest.stop();
    }
  });
});
