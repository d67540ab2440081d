/**
 * A root mismatch is re-fetched once from the last verified size before the log is failed (issue 21 §3:
 * a corrupted download is not a lying log): a one-off corrupted response heals, a log that keeps serving
 * the altered entry fails after exactly one re-fetch, with nothing of the failing window delivered.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FakeCtLog } from '../../fake-ct-log/fake-ct-log.js';
import { Rfc6962Follower } from '../../src/ct/rfc6962-follower.js';
import { fakeDescriptors, followerHarness } from '../support/follower-deps.js';
import { waitUntil } from '../support/wait-until.js';

describe('the one re-fetch before a root mismatch', () => {
  let fake: FakeCtLog;
  before(async () => {
    fake = await FakeCtLog.start({ rfc6962Logs: 2, staticLogs: 0, initialSize: 64, maxGetEntries: 32 });
  });
  after(() => fake.close());

  it('an altered entry served every time: one re-fetch from the verified size, then failed; a one-off one heals', async () => {
    const [lying, flaky] = fakeDescriptors(fake);
    const fetches = new Map<string, number>();
    const off = fake.onArrival((path) => {
      if (path.endsWith('ct/v1/get-entries')) fetches.set(path, (fetches.get(path) ?? 0) + 1);
    });
    const lyingPath = `${new URL(lying.url).pathname.slice(1)}ct/v1/get-entries`;
    const h = await followerHarness(lying, { backfill: 1_000_000 });
    const f = new Rfc6962Follower(h.deps);
    try {
      f.start();
      await waitUntil('verified at 64', 10_000, () => f.status().verified_size === 64);
      const before = fetches.get(lyingPath) ?? 0;
      fake.misbehave(lying.url, { kind: 'alter-entry', index: 70 });
      fake.append(26, lying.url); // 90: windows [64, 90) -> one request each time
      await waitUntil('failed', 10_000, () => f.status().verification === 'failed');
      assert.match(f.status().last_error ?? '', /root_mismatch/);
      assert.equal((fetches.get(lyingPath) ?? 0) - before, 2, 'fetched, then re-fetched once from the verified size');
      assert.equal(f.status().next_index, 64, 'nothing of the failing window delivered');
      assert.deepEqual(h.collector.indices(lying.url).at(-1), 63);
    } finally {
      await f.stop();
      await h.close();
    }

    // A corrupted response once (the entry altered for one request only): the re-fetch heals it.
    const h2 = await followerHarness(flaky, { backfill: 1_000_000 });
    const g = new Rfc6962Follower(h2.deps);
    try {
      g.start();
      await waitUntil('verified at 64', 10_000, () => g.status().verified_size === 64);
      fake.misbehave(flaky.url, { kind: 'alter-entry', index: 70 });
      const flakyPath = `${new URL(flaky.url).pathname.slice(1)}ct/v1/get-entries`;
      const healOnce = fake.onArrival((path) => {
        if (path === flakyPath) {
          healOnce();
          setImmediate(() => fake.behave(flaky.url)); // after this response: the re-fetch is honest
        }
      });
      fake.append(26, flaky.url);
      await waitUntil('verified at 90', 10_000, () => g.status().verified_size === 90);
      assert.equal(g.status().verification, 'ok');
      assert.deepEqual(h2.collector.indices(flaky.url).slice(-26), Array.from({ length: 26 }, (_, i) => 64 + i), 'each entry once');
    } finally {
      off();
      await g.stop();
      await h2.close();
    }
  });
});
