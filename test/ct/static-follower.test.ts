import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { FakeCtLog } from '../../fake-ct-log/fake-ct-log.js';
import { IssuerCache } from '../../src/ct/issuer-cache.js';
import { StaticFollower } from '../../src/ct/static-follower.js';
import { range } from '../support/entry-collector.js';
import { fakeDescriptors, followerHarness } from '../support/follower-deps.js';

describe('StaticFollower against the fake CT log', () => {
  let fake: FakeCtLog;
  before(async () => {
    fake = await FakeCtLog.start({ rfc6962Logs: 0, staticLogs: 4, initialSize: 600 });
  });
  after(() => fake.close());

  it('reads full tiles, leaves the partial tile alone within the delay, resolves issuers once', async () => {
    const log = fakeDescriptors(fake)[0];
    const h = await followerHarness(log, { backfill: 100_000 });
    const issuers = new IssuerCache(h.http);
    const f = new StaticFollower(h.deps, { issuers, partialDelayMs: 3_600_000 });
    const before = { ...fake.requests, tilePaths: [...fake.requests.tilePaths] };
    try {
      f.start();
      await h.collector.until(log.url, 512);
      assert.deepEqual(h.collector.indices(log.url), range(0, 512));
      fake.append(256 - 88, log.url); // tile 2 becomes full: 768 entries
      await h.collector.until(log.url, 768);
      assert.deepEqual(h.collector.indices(log.url), range(0, 768));
      assert.equal(f.tileFetches.partial, 0, 'no partial tile read within the delay');
      assert.equal(fake.requests.partialTiles - before.partialTiles, 0);
      for (const e of h.collector.byLog.get(log.url) ?? []) {
        assert.doesNotThrow(() => new X509Certificate(e.leaf));
        for (const c of e.chain) assert.doesNotThrow(() => new X509Certificate(c));
      }
      const fps = new Set((h.collector.byLog.get(log.url) ?? []).flatMap((e) => e.chain.map((c) => createHash('sha256').update(c).digest('hex'))));
      assert.equal(issuers.fetches, fps.size, 'each issuer fetched once');
      assert.equal(issuers.size, fps.size);
    } finally {
      await f.stop();
      await h.close();
    }
  });

  it('reads a partial tile after the delay, never the same width twice', async () => {
    const log = fakeDescriptors(fake)[1];
    let clock = 1_000_000;
    const h = await followerHarness(log, { backfill: 100_000, now: () => clock });
    const f = new StaticFollower(h.deps, { issuers: new IssuerCache(h.http), partialDelayMs: 10_000 });
    try {
      f.start();
      await h.collector.until(log.url, 512);
      clock += 10_001;
      await h.collector.until(log.url, 600);
      assert.deepEqual(h.collector.indices(log.url), range(0, 600));
      assert.equal(f.tileFetches.partial, 1);
      // Time passes without growth: the same width is not read again. Wait for some polls to happen.
      clock += 60_000;
      const polls = fake.requests.checkpoint;
      await waitForPolls(fake, polls + 5);
      assert.equal(f.tileFetches.partial, 1, 'same partial width not read twice');
      fake.append(10, log.url);
      await h.collector.until(log.url, 610);
      assert.equal(f.tileFetches.partial, 2);
      assert.ok(fake.requests.tilePaths.includes('tile/data/002.p/98'));
    } finally {
      await f.stop();
      await h.close();
    }
  });

  it('falls back to the full tile when the partial one is gone', async () => {
    const log = fakeDescriptors(fake)[2];
    fake.append(256 - 88, log.url); // 768: tile 2 is full, so 002.p/88 is gone
    fake.pinHead(log.url, 600); // but the checkpoint still says 600
    const h = await followerHarness(log, { backfill: 100_000 });
    const f = new StaticFollower(h.deps, { issuers: new IssuerCache(h.http), partialDelayMs: 0 });
    try {
      f.start();
      await h.collector.until(log.url, 600);
      assert.deepEqual(h.collector.indices(log.url), range(0, 600));
      assert.ok(fake.requests.tilePaths.includes('tile/data/002.p/88'));
      assert.equal(f.status().last_error, null);
    } finally {
      await f.stop();
      await h.close();
      fake.pinHead(log.url, undefined);
    }
  });

  it('rejects a checkpoint whose origin is not the log and one whose size goes backwards', async () => {
    const real = fakeDescriptors(fake)[3];
    const wrong = { ...real, submissionUrl: 'https://elsewhere.example/log/' };
    const h = await followerHarness(wrong);
    const f = new StaticFollower(h.deps, { issuers: new IssuerCache(h.http) });
    try {
      f.start();
      await waitFor(() => f.status().last_error !== null, fake);
      assert.match(f.status().last_error ?? '', /origin .*expected "elsewhere.example\/log"/);
      assert.equal(h.collector.indices(real.url).length, 0);
    } finally {
      await f.stop();
      await h.close();
    }
    // Unverified (a verified log treats a signed head below its verified size as inconsistent: test/verify).
    const h2 = await followerHarness(real, { backfill: 0, verify: false });
    const f2 = new StaticFollower(h2.deps, { issuers: new IssuerCache(h2.http) });
    try {
      f2.start();
      await waitFor(() => f2.status().tree_size !== null, fake);
      fake.pinHead(real.url, 10);
      await waitFor(() => f2.status().last_error !== null, fake);
      assert.match(f2.status().last_error ?? '', /tree size 10 < 600/);
    } finally {
      await f2.stop();
      await h2.close();
      fake.pinHead(real.url, undefined);
    }
  });
});

/** Resolves once the fake served `n` checkpoints in total (each poll is one request: an event, not a sleep). */
function waitForPolls(fake: FakeCtLog, n: number): Promise<void> {
  return waitFor(() => fake.requests.checkpoint >= n, fake);
}

/** Re-checks `cond` after each request the fake serves. */
function waitFor(cond: () => boolean, fake: FakeCtLog): Promise<void> {
  return new Promise((resolve) => {
    if (cond()) return resolve();
    const off = fake.onRequest(() => {
      if (!cond()) return;
      off();
      resolve();
    });
  });
}
