import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeCtLog } from '../../fake-ct-log/fake-ct-log.js';
import { expectedOrigin } from '../../src/ct/checkpoint.js';
import { parseLogList, type LogListEntry } from '../../src/ct/log-list.js';
import { dataTilePath } from '../../src/ct/tile-path.js';
import { isCertstreamError } from '../../src/errors.js';
import { verifyCheckpoint } from '../../src/verify/checkpoint-signature.js';
import { CompactRange } from '../../src/verify/compact-range.js';
import { rfc6962LeafHash, tileLeafHashes } from '../../src/verify/leaf-hash.js';
import { parseLogKey } from '../../src/verify/log-key.js';
import { LogVerifier } from '../../src/verify/log-verifier.js';
import { parseSignedTreeHead, verifySignedTreeHead } from '../../src/verify/signed-tree-head.js';
import type { TreeHead } from '../../src/verify/tree-head.js';

async function get(url: string): Promise<Buffer> {
  const res = await fetch(url);
  assert.equal(res.status, 200, url);
  return Buffer.from(await res.arrayBuffer()); // fetch has undone any gzip
}

/** Leaf hashes of entries [0, size) as a client reads them: get-entries (RFC 6962) or data tiles (static). */
async function servedLeafHashes(log: LogListEntry, size: number): Promise<Buffer[]> {
  const out: Buffer[] = [];
  while (out.length < size) {
    if (log.kind === 'rfc6962') {
      const body = JSON.parse((await get(`${log.monitoringUrl}ct/v1/get-entries?start=${out.length}&end=${size - 1}`)).toString()) as { entries: { leaf_input: string }[] };
      for (const e of body.entries) out.push(rfc6962LeafHash(Buffer.from(e.leaf_input, 'base64')));
    } else {
      const tile = Math.floor(out.length / 256);
      const width = Math.min(256, size - tile * 256);
      out.push(...tileLeafHashes(await get(`${log.monitoringUrl}${dataTilePath(tile, width)}`), tile * 256));
    }
  }
  return out;
}

function rootOf(hashes: Buffer[], size: number): Buffer {
  const r = new CompactRange();
  r.appendFrom(0, hashes.slice(0, size));
  return r.root();
}

async function signedHead(log: LogListEntry): Promise<TreeHead> {
  const key = parseLogKey(log.key, log.logId);
  if (log.kind === 'rfc6962') return verifySignedTreeHead(parseSignedTreeHead(JSON.parse((await get(`${log.monitoringUrl}ct/v1/get-sth`)).toString())), key);
  return verifyCheckpoint((await get(`${log.monitoringUrl}checkpoint`)).toString(), key, expectedOrigin(log.submissionUrl!));
}

test('the fake log publishes real keys, signs real heads, and its roots are those of the entries it serves', { timeout: 60_000 }, async (t) => {
  const fake = await FakeCtLog.start({ rfc6962Logs: 2, staticLogs: 2, initialSize: 600, maxGetEntries: 1024 });
  t.after(() => fake.close());
  const logs = parseLogList(JSON.parse((await get(fake.logListUrl)).toString()));
  assert.equal(logs.length, 4);
  assert.equal(new Set(logs.map((l) => l.key)).size, 4, 'one key per log');
  for (const log of logs) {
    const key = parseLogKey(log.key, log.logId); // log_id is SHA-256 of the key
    assert.equal(key.algorithm, 'ecdsa-p256');
    const head = await signedHead(log);
    assert.equal(head.treeSize, 600);
    const hashes = await servedLeafHashes(log, 600);
    assert.deepEqual(Buffer.from(head.rootHash), rootOf(hashes, 600), `${log.kind} ${log.monitoringUrl}`);
    // Another log's key does not verify this log's head.
    const other = logs.find((l) => l !== log && l.kind === log.kind)!;
    await assert.rejects(signedHead({ ...log, key: other.key, logId: other.logId }), /signature/);
  }

  // Growth: the next head covers the appended entries, computed incrementally.
  fake.append(1000);
  for (const log of logs) {
    const head = await signedHead(log);
    assert.equal(head.treeSize, 1600);
    assert.deepEqual(Buffer.from(head.rootHash), rootOf(await servedLeafHashes(log, 1600), 1600), log.monitoringUrl);
  }
});

test('pinned heads are real heads too: behind the entries, and ahead of them', { timeout: 60_000 }, async (t) => {
  const fake = await FakeCtLog.start({ rfc6962Logs: 1, staticLogs: 1, initialSize: 5000, maxGetEntries: 1024 });
  t.after(() => fake.close());
  const logs = parseLogList(JSON.parse((await get(fake.logListUrl)).toString()));
  for (const log of logs) {
    const url = log.monitoringUrl;
    await signedHead(log); // the tree is computed to 5000 first, so 4100 comes from a snapshot
    const hashes = await servedLeafHashes(log, 5000);
    fake.pinHead(url, 4100);
    const behind = await signedHead(log);
    assert.equal(behind.treeSize, 4100);
    assert.deepEqual(Buffer.from(behind.rootHash), rootOf(hashes, 4100));
    fake.pinHead(url, 5300);
    const ahead = await signedHead(log);
    assert.equal(ahead.treeSize, 5300);
    fake.pinHead(url, undefined);
    fake.append(300, url);
    assert.deepEqual(Buffer.from(ahead.rootHash), rootOf(await servedLeafHashes(log, 5300), 5300), 'the entries appended later match');
    assert.deepEqual(fake.rootAt(url, 5300), Buffer.from(ahead.rootHash));
    // An absurd pinned head is still signed (it fails plausibility checks before any root is compared).
    fake.pinHead(url, Number.MAX_SAFE_INTEGER);
    assert.equal((await signedHead(log)).treeSize, Number.MAX_SAFE_INTEGER);
    assert.equal(fake.rootAt(url, Number.MAX_SAFE_INTEGER), null);
    fake.pinHead(url, undefined);
  }
});

test('a misbehaving fake log is caught: altered entry, bad signature, forked head, shrunk head', { timeout: 60_000 }, async (t) => {
  const fake = await FakeCtLog.start({ rfc6962Logs: 1, staticLogs: 1, initialSize: 300, maxGetEntries: 1024 });
  t.after(() => fake.close());
  const logs = parseLogList(JSON.parse((await get(fake.logListUrl)).toString()));
  for (const log of logs) {
    const url = log.monitoringUrl;
    const v = LogVerifier.fromStart();
    assert.equal(v.addHead(await signedHead(log)).status, 'wait');
    assert.deepEqual(v.addLeaves(0, await servedLeafHashes(log, 300)).map((x) => x.status), ['ok'], 'honest');

    // An altered entry: the signed root is the honest one, so the streamed entries do not give it.
    fake.append(100, url);
    fake.misbehave(url, { kind: 'alter-entry', index: 350 });
    assert.equal(v.addHead(await signedHead(log)).status, 'wait');
    const hashes = await servedLeafHashes(log, 400);
    assert.deepEqual(v.addLeaves(300, hashes.slice(300)).map((x) => x.status), ['root_mismatch'], 'altered entry');
    fake.behave(url);
    assert.equal(v.rewindToVerified(), 300);
    assert.deepEqual(v.addLeaves(300, (await servedLeafHashes(log, 400)).slice(300)).map((x) => x.status), ['ok'], 're-fetched honestly');

    // A bad signature.
    fake.misbehave(url, { kind: 'bad-signature' });
    await assert.rejects(signedHead(log), (err: unknown) => isCertstreamError(err, 'VERIFY_ERR_SIGNATURE'));
    fake.behave(url);

    // A correctly signed fork: the same size with another root.
    fake.misbehave(url, { kind: 'fork' });
    const fork = v.addHead(await signedHead(log));
    assert.ok(fork.status === 'inconsistent' && fork.reason === 'same_size_other_root', `fork: ${fork.status}`);
    fake.behave(url);

    // A correctly signed shrunk head.
    fake.misbehave(url, { kind: 'shrink', size: 350 });
    const shrunk = v.addHead(await signedHead(log));
    assert.ok(shrunk.status === 'inconsistent' && shrunk.reason === 'smaller_than_verified', `shrink: ${shrunk.status}`);
    fake.behave(url);
    assert.equal(v.addHead(await signedHead(log)).status, 'ok', 'honest again');
  }
});
