/**
 * Proving the range before a cursor (a cursor saved before verification, a start at head − backfill):
 * audit paths built from perfect subtrees (merkle-path.ts) verify against real roots at every shape of
 * tree, and a static-ct-api follower proves its range from hash tiles of several levels (a tree past
 * 65,536 entries needs level-1 and level-2 tiles) and then verifies from its cursor on.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { FakeCtLog } from '../../fake-ct-log/fake-ct-log.js';
import { IssuerCache } from '../../src/ct/issuer-cache.js';
import { StaticFollower } from '../../src/ct/static-follower.js';
import { CompactRange } from '../../src/verify/compact-range.js';
import { rangeFromInclusionProof } from '../../src/verify/inclusion-proof.js';
import { inclusionPath, type Subtree } from '../../src/verify/merkle-path.js';
import { fakeDescriptors, followerHarness } from '../support/follower-deps.js';
import { waitUntil } from '../support/wait-until.js';

test('audit paths from perfect subtrees give the compact range at index + 1, for every tree shape tried', () => {
  const leaf = (i: number) => createHash('sha256').update(`leaf ${i}`).digest();
  const subtree = (s: Subtree) => {
    const r = new CompactRange();
    for (let i = s.start; i < s.start + 2 ** s.height; i++) r.append(leaf(i));
    return r.root();
  };
  for (const size of [1, 2, 3, 5, 8, 9, 255, 256, 257, 1000]) {
    const full = new CompactRange();
    for (let i = 0; i < size; i++) full.append(leaf(i));
    for (const index of new Set([0, 1 % size, Math.floor(size / 3), size - 1])) {
      const range = rangeFromInclusionProof(index, size, leaf(index), inclusionPath(index, size, subtree), full.root());
      const expected = new CompactRange();
      for (let i = 0; i <= index; i++) expected.append(leaf(i));
      assert.ok(range.root().equals(expected.root()), `size ${size} index ${index}`);
    }
  }
});

test('a static-ct-api cursor past 65,536 entries: the range is proven from level 0–2 hash tiles, then verified', { timeout: 120_000 }, async () => {
  const fake = await FakeCtLog.start({ rfc6962Logs: 0, staticLogs: 1, initialSize: 70_000 });
  const [log] = fakeDescriptors(fake);
  const h = await followerHarness(log, {}, 20_000);
  h.cursors.set(log.url, 69_990); // as from a cursor file written before verification
  const f = new StaticFollower(h.deps, { issuers: new IssuerCache(h.http), partialDelayMs: 0 });
  const tiles: string[] = [];
  const off = fake.onArrival((path) => {
    const m = /\/tile\/(\d+)\//.exec(`/${path}`);
    if (m) tiles.push(m[1]);
  });
  try {
    f.start();
    await waitUntil('streamed to the head', 60_000, () => f.status().next_index === 70_000);
    fake.append(6);
    await waitUntil('verified at the next head', 60_000, () => f.status().verified_size === 70_006);
    assert.equal(f.status().verification, 'ok');
    assert.ok(['0', '1', '2'].every((l) => tiles.includes(l)), `hash tile levels read: ${[...new Set(tiles)].join(',')}`);
  } finally {
    off();
    await f.stop();
    await h.close();
    await fake.close();
  }
});
