import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isCertstreamError } from '../../src/errors.js';
import { CompactRange } from '../../src/verify/compact-range.js';
import { LogVerifier } from '../../src/verify/log-verifier.js';
import { hashLeaf } from '../../src/verify/merkle-hash.js';
import type { TreeHead } from '../../src/verify/tree-head.js';
import { flip } from './fixtures.js';

const leaves = Array.from({ length: 100 }, (_, i) => hashLeaf(Buffer.from(`entry ${i}`)));
function head(size: number, hashes = leaves): TreeHead {
  const r = new CompactRange();
  r.appendFrom(0, hashes.slice(0, size));
  return { treeSize: size, timestamp: 1000 + size, rootHash: r.root() };
}

test('heads verify when the stream reaches their size, in the same call that streams the entries', () => {
  const v = LogVerifier.fromStart();
  assert.equal(v.addHead(head(10)).status, 'wait');
  const verdicts = v.addLeaves(0, leaves.slice(0, 15));
  assert.deepEqual(verdicts.map((x) => x.status), ['ok']);
  assert.equal(v.verifiedSize, 10);
  assert.equal(v.streamedSize, 15);
  // A head exactly at the streamed size is checked at once.
  assert.equal(v.addHead(head(15)).status, 'ok');
  assert.equal(v.verifiedSize, 15);
  // A head the stream passed already cannot be checked: it waits for nothing, and is not kept.
  v.addLeaves(15, leaves.slice(15, 30));
  assert.equal(v.addHead(head(20)).status, 'wait');
  assert.equal(v.pendingHeads.length, 0);
  // A head below the verified size is inconsistent.
  const shrunk = v.addHead(head(12));
  assert.ok(shrunk.status === 'inconsistent' && shrunk.reason === 'smaller_than_verified');
});

test('a substituted entry is a root_mismatch; the one re-fetch from the verified size clears a corrupted download', () => {
  const v = LogVerifier.fromStart();
  v.addHead(head(20));
  v.addLeaves(0, leaves.slice(0, 20));
  v.addHead(head(40));
  const altered = leaves.map((h, i) => (i === 33 ? flip(h, 0) : h));
  const verdicts = v.addLeaves(20, altered.slice(20, 50));
  assert.deepEqual(verdicts.map((x) => x.status), ['root_mismatch']);
  assert.equal(v.streamedSize, 40, 'nothing past the mismatch is added');
  assert.equal(v.verifiedSize, 20);
  assert.equal(v.rewindToVerified(), 20);
  assert.deepEqual(v.addLeaves(20, leaves.slice(20, 50)).map((x) => x.status), ['ok'], 'the honest bytes match');
  assert.equal(v.verifiedSize, 40);
  assert.equal(v.streamedSize, 50);
});

test('a log that signs a wrong root mismatches again after the re-fetch', () => {
  const v = LogVerifier.fromStart();
  const forked = leaves.map((h, i) => (i === 5 ? flip(h, 1) : h));
  v.addHead(head(10, forked));
  assert.equal(v.addLeaves(0, leaves.slice(0, 10))[0].status, 'root_mismatch');
  assert.equal(v.rewindToVerified(), 0);
  assert.equal(v.addLeaves(0, leaves.slice(0, 10))[0].status, 'root_mismatch');
});

test('the saved state resumes exactly (cursor, verified head, rewind point) and is checked on load', () => {
  const v = LogVerifier.fromStart();
  v.addHead(head(30));
  v.addLeaves(0, leaves.slice(0, 37));
  const saved = JSON.parse(JSON.stringify(v)) as ReturnType<LogVerifier['toJSON']>;
  const r = LogVerifier.fromJSON(saved, 'cursor of log X', 37);
  assert.equal(r.streamedSize, 37);
  assert.equal(r.verifiedSize, 30);
  r.addHead(head(60));
  assert.deepEqual(r.addLeaves(37, leaves.slice(37, 60)).map((x) => x.status), ['ok']);
  assert.equal(r.rewindToVerified(), 60);
  const again = LogVerifier.fromJSON(saved, 'cursor of log X', 37);
  assert.equal(again.rewindToVerified(), 30);

  const corrupt = (label: string, state: unknown, expected?: number) =>
    assert.throws(() => LogVerifier.fromJSON(state, 'cursor of log X', expected), (err: unknown) => isCertstreamError(err, 'STATE_ERR_CORRUPT'), label);
  corrupt('cursor disagrees', saved, 38);
  corrupt('not an object', 'x');
  corrupt('verified beyond the range', { ...saved, verified: { ...saved.verified!, tree_size: 38 } });
  corrupt('verified root flipped', { ...saved, verified: { ...saved.verified!, root: flip(Buffer.from(saved.verified!.root, 'base64'), 0).toString('base64') } });
  corrupt('verified_range missing', { ...saved, verified_range: null });
  corrupt('a starting range ahead of the range', { ...saved, verified: null, verified_range: grownRange(40).toJSON() });
  assert.equal(LogVerifier.fromJSON({ ...saved, verified: null, verified_range: null }, 'x', 37).verifiedSize, null);
});

function grownRange(n: number): CompactRange {
  const r = new CompactRange();
  r.appendFrom(0, leaves.slice(0, n));
  return r;
}

test('a log started mid-way from a proven range: pending until its first head, re-fetch restarts at the start', () => {
  const v = LogVerifier.fromTrustedRange(grownRange(25));
  assert.equal(v.streamedSize, 25);
  assert.equal(v.verifiedSize, null);
  v.addHead(head(40));
  const altered = leaves.map((h, i) => (i === 30 ? flip(h, 2) : h));
  assert.deepEqual(v.addLeaves(25, altered.slice(25, 40)).map((x) => x.status), ['root_mismatch']);
  const saved = LogVerifier.fromJSON(JSON.parse(JSON.stringify(v)), 'x', 40);
  assert.equal(saved.rewindToVerified(), 25, 'the saved state keeps the starting point');
  assert.equal(v.rewindToVerified(), 25);
  assert.deepEqual(v.addLeaves(25, leaves.slice(25, 40)).map((x) => x.status), ['ok']);
  assert.equal(v.verifiedSize, 40);
});
