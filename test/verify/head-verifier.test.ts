import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HeadVerifier, MAX_PENDING_HEADS } from '../../src/verify/head-verifier.js';
import type { TreeHead } from '../../src/verify/tree-head.js';

const root = (n: number) => Buffer.alloc(32, n);
const head = (treeSize: number, r = treeSize, timestamp = 1000 + treeSize): TreeHead => ({ treeSize, timestamp, rootHash: root(r) });

test('a head ahead of the stream waits; the matching computed root verifies it', () => {
  const v = new HeadVerifier();
  assert.equal(v.verified, null);
  assert.deepEqual(v.addHead(head(100)), { status: 'wait' });
  assert.equal(v.nextCheckSize, 100);
  assert.deepEqual(v.checkRoot(50, root(1)), { status: 'wait' }, 'no head of size 50');
  assert.deepEqual(v.checkRoot(100, root(100)), { status: 'ok', verified: head(100) });
  assert.deepEqual(v.verified, head(100));
  assert.equal(v.nextCheckSize, null);
  // The same head again (a log that did not grow) is fine.
  assert.equal(v.addHead(head(100, 100, 5000)).status, 'ok');
});

test('a computed root that differs is a root_mismatch, and the head stays pending for the one re-fetch', () => {
  const v = new HeadVerifier(head(10));
  v.addHead(head(20));
  const verdict = v.checkRoot(20, root(99));
  assert.equal(verdict.status, 'root_mismatch');
  assert.ok(verdict.status === 'root_mismatch' && verdict.head.treeSize === 20 && verdict.computedRoot.equals(root(99)));
  assert.deepEqual(v.verified, head(10), 'the verified head does not move');
  assert.equal(v.nextCheckSize, 20);
  assert.equal(v.checkRoot(20, root(20)).status, 'ok', 'the re-fetched entries give the right root');
});

test('inconsistent heads: the same size with another root, or a size below the verified one', () => {
  const v = new HeadVerifier();
  v.addHead(head(100));
  v.checkRoot(100, root(100));
  const fork = v.addHead(head(100, 7));
  assert.equal(fork.status, 'inconsistent');
  assert.ok(fork.status === 'inconsistent' && fork.reason === 'same_size_other_root' && fork.conflictsWith.treeSize === 100);
  const shrunk = v.addHead(head(99));
  assert.ok(shrunk.status === 'inconsistent' && shrunk.reason === 'smaller_than_verified');
  // Two pending heads of one size with different roots conflict before either is checked.
  v.addHead(head(200));
  const pendingFork = v.addHead(head(200, 8));
  assert.ok(pendingFork.status === 'inconsistent' && pendingFork.reason === 'same_size_other_root');
  assert.equal(v.addHead(head(200)).status, 'wait', 'the same pending head twice is fine');
  assert.equal(v.pending.length, 1);
});

test('several pending heads are checked in size order; passed ones are dropped', () => {
  const v = new HeadVerifier();
  for (const s of [300, 100, 200]) v.addHead(head(s));
  assert.deepEqual(v.pending.map((h) => h.treeSize), [100, 200, 300]);
  assert.equal(v.checkRoot(100, root(100)).status, 'ok');
  assert.equal(v.nextCheckSize, 200);
  assert.equal(v.checkRoot(250, root(250)).status, 'wait', '200 passed unchecked, nothing at 250');
  assert.deepEqual(v.pending.map((h) => h.treeSize), [300]);
  assert.equal(v.checkRoot(300, root(300)).status, 'ok');
  assert.equal(v.verified?.treeSize, 300);
});

test('at most MAX_PENDING_HEADS wait; the smallest are dropped', () => {
  const v = new HeadVerifier();
  for (let s = 1; s <= MAX_PENDING_HEADS + 5; s++) v.addHead(head(s));
  assert.equal(v.pending.length, MAX_PENDING_HEADS);
  assert.equal(v.nextCheckSize, 6);
});
