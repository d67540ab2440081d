/**
 * Issue 10 item 4: a cursor ahead of the tree must not stall a log silently, and an implausible head
 * must never be saved as a cursor. Each case: last_error says what happened, a metric shows it, the log
 * turns unhealthy (so /healthz says `degraded` beside a healthy log), and nothing is streamed or saved.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FakeCtLog } from '../../fake-ct-log/fake-ct-log.js';
import type { LogFollower } from '../../src/ct/log-follower.js';
import { Rfc6962Follower, parseSth } from '../../src/ct/rfc6962-follower.js';
import { StaticFollower } from '../../src/ct/static-follower.js';
import { IssuerCache } from '../../src/ct/issuer-cache.js';
import { MAX_HEAD_JUMP, MAX_TREE_SIZE, checkTreeSize } from '../../src/ct/tree-size.js';
import type { LogDescriptor, LogStatus } from '../../src/ct/types.js';
import { isCertstreamError } from '../../src/errors.js';
import { healthStatus } from '../../src/http/healthz.js';
import type { ServerMetrics } from '../../src/metrics/server-metrics.js';
import { range } from '../support/entry-collector.js';
import { fakeDescriptors, followerHarness, type Harness } from '../support/follower-deps.js';

const rules = () => ({ nowMs: Date.now(), staleAfterMs: 30_000, maxLag: 1000 });
const healthyStatus = {
  url: 'other', name: 'other', kind: 'rfc6962' as const, tree_size: 10, next_index: 10, lag: 0,
  last_success: Math.floor(Date.now() / 1000), last_error: null, verified_size: null, verification: 'ok' as const,
};

/** Resolves once `f`'s status satisfies `test` (checked after every request to the fake, with a deadline). */
function statusReaches(fake: FakeCtLog, f: LogFollower, test: (s: LogStatus) => boolean, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (!test(f.status())) return;
      off();
      clearTimeout(timer);
      resolve();
    };
    const off = fake.onRequest(() => setImmediate(check));
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out waiting for ${what}; last_error ${f.status().last_error}`));
    }, 10_000);
    check();
  });
}

const failedWith = (fake: FakeCtLog, f: LogFollower, pattern: RegExp) =>
  statusReaches(fake, f, (s) => pattern.test(s.last_error ?? ''), `an error matching ${pattern}`);
const recovered = (fake: FakeCtLog, f: LogFollower) => statusReaches(fake, f, (s) => s.last_error === null, 'last_error to clear');

async function gauge(metrics: ServerMetrics, log: string): Promise<number | undefined> {
  return (await metrics.cursorAhead.get()).values.find((v) => v.labels.log === log)?.value;
}

async function parseErrors(metrics: ServerMetrics, log: string): Promise<number> {
  return (await metrics.logErrors.get()).values.find((v) => v.labels.log === log && v.labels.kind === 'parse')?.value ?? 0;
}

describe('a cursor ahead of the tree, and implausible heads', () => {
  let fake: FakeCtLog;
  let logs: LogDescriptor[];
  before(async () => {
    fake = await FakeCtLog.start({ rfc6962Logs: 4, staticLogs: 1, initialSize: 1000 });
    logs = fakeDescriptors(fake);
  });
  after(() => fake.close());

  async function run(log: LogDescriptor, h: Harness, body: (f: LogFollower) => Promise<void>): Promise<void> {
    const f = log.kind === 'rfc6962' ? new Rfc6962Follower(h.deps) : new StaticFollower(h.deps, { issuers: new IssuerCache(h.http) });
    try {
      f.start();
      await body(f);
    } finally {
      await f.stop();
      await h.close();
    }
  }

  it('a future index in the cursor file: visible in last_error, the gauge, parse errors and health', async () => {
    for (const log of [logs[0], logs[4]]) {
      const h = await followerHarness(log);
      h.cursors.set(log.url, 5000); // as loaded from a cursors.json written against another tree
      await run(log, h, async (f) => {
        await failedWith(fake, f, /cursor 5000 is 4000 entries ahead of the log's tree size 1000: remove this log from cursors\.json/);
        const s = f.status();
        assert.equal(s.tree_size, 1000);
        assert.equal(s.next_index, 5000);
        assert.equal(s.last_success, null, 'a head poll with the cursor ahead is no success');
        assert.equal(await gauge(h.deps.metrics, log.url), 4000);
        assert.ok((await parseErrors(h.deps.metrics, log.url)) >= 1);
        assert.equal(healthStatus([s, healthyStatus], true, rules()), 'degraded');
        assert.equal(h.collector.indices(log.url).length, 0);
        assert.equal(h.cursors.get(log.url), 5000, 'the cursor is left for the operator to decide');
      });
    }
  });

  it('a tree that shrank below the saved cursor (restart after a shrink) is the same visible stall, and it heals when the tree catches up', async () => {
    const log = logs[1];
    const h = await followerHarness(log);
    h.cursors.set(log.url, 1000);
    fake.pinHead(log.url, 400);
    await run(log, h, async (f) => {
      await failedWith(fake, f, /ahead of the log's tree size 400/);
      assert.equal(await gauge(h.deps.metrics, log.url), 600);
      fake.pinHead(log.url, undefined);
      fake.append(10, log.url);
      await h.collector.until(log.url, 1010);
      assert.deepEqual(h.collector.indices(log.url), range(1000, 1010));
      await recovered(fake, f);
      assert.equal(await gauge(h.deps.metrics, log.url), 0);
    });
  });

  it('a lying head of 2^53−1 is rejected before a cursor is saved; the log follows once the head is sane', async () => {
    const log = logs[2];
    const h = await followerHarness(log, { backfill: 10 });
    fake.pinHead(log.url, Number.MAX_SAFE_INTEGER);
    await run(log, h, async (f) => {
      await failedWith(fake, f, /not plausible/);
      assert.equal(h.cursors.get(log.url), undefined, 'nothing saved');
      assert.equal(f.status().tree_size, null);
      fake.pinHead(log.url, undefined);
      const size = fake.size(log.url);
      await h.collector.until(log.url, size);
      assert.deepEqual(h.collector.indices(log.url), range(size - 10, size));
    });
  });

  it('a head that jumps by more than 2^28 past the last one is rejected, the cursor stays', async () => {
    const log = logs[3];
    const h = await followerHarness(log, { backfill: 5 });
    await run(log, h, async (f) => {
      const size = fake.size(log.url);
      await h.collector.until(log.url, size);
      fake.pinHead(log.url, size + MAX_HEAD_JUMP + 1);
      await failedWith(fake, f, /jumped 268435457 entries past the previous head/);
      assert.equal(h.cursors.get(log.url), size);
      assert.equal(f.status().tree_size, size);
      fake.pinHead(log.url, undefined);
      fake.append(3, log.url);
      await h.collector.until(log.url, size + 3);
      await recovered(fake, f);
    });
  });

  it('checkTreeSize and parseSth bounds', () => {
    const implausible = (err: unknown) => isCertstreamError(err, 'CT_ERR_IMPLAUSIBLE_HEAD');
    assert.doesNotThrow(() => checkTreeSize(MAX_TREE_SIZE, null));
    assert.throws(() => checkTreeSize(MAX_TREE_SIZE + 1, null), implausible);
    assert.throws(() => checkTreeSize(1.5, null), implausible);
    assert.doesNotThrow(() => checkTreeSize(100 + MAX_HEAD_JUMP, 100));
    assert.throws(() => parseSth({ tree_size: 2 ** 53 - 1 }), implausible);
    assert.equal(parseSth({ tree_size: 2_000_000_000, timestamp: 5 }).treeSize, 2_000_000_000);
  });
});
