// Issue 21: the body of a log's last verified head, exactly as served, is saved with its verification
// state, so that evidence written after a restart holds it as evidence written before one does. A saved
// body is used only when it is that head (its signature verifies with the log's key, its size and root
// are the verified ones): evidence must be exactly true, so a body that is not the head is dropped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeSigner } from '../../fake-ct-log/fake-signer.js';
import { isCertstreamError } from '../../src/errors.js';
import { LogVerification, type SavedVerification } from '../../src/ct/log-verification.js';
import { verifyServedHead } from '../../src/ct/served-head.js';
import type { LogDescriptor } from '../../src/ct/types.js';
import { silentLogger } from '../../src/log/logger.js';
import { createServerMetrics } from '../../src/metrics/server-metrics.js';
import { CompactRange } from '../../src/verify/compact-range.js';
import type { Evidence } from '../../src/verify/evidence.js';
import { hashLeaf } from '../../src/verify/merkle-hash.js';
import { waitUntil } from '../support/wait-until.js';

const signer = new FakeSigner();
const LOG: LogDescriptor = {
  kind: 'rfc6962', url: 'https://ct.example/log/', name: 'Example log', operator: 'Example', logId: signer.logId.toString('base64'),
  monitoringUrl: 'https://ct.example/log/', state: 'usable', key: signer.spki.toString('base64'),
};
const leaves = Array.from({ length: 10 }, (_, i) => hashLeaf(Buffer.from(`entry ${i}`)));
const range = new CompactRange();
range.appendFrom(0, leaves);
const honest = JSON.stringify(signer.sth({ treeSize: 10, timestamp: 1_000, rootHash: range.root() }));
const forked = JSON.stringify(signer.sth({ treeSize: 10, timestamp: 2_000, rootHash: hashLeaf(Buffer.from('another tree')) }));

function verification(stateDir: string, next: number | undefined, saved: unknown): LogVerification {
  return new LogVerification({
    log: LOG, enabled: true, next, saved, where: 'test', stateDir, metrics: createServerMetrics({ processMetrics: false }),
    logger: silentLogger, now: () => Date.UTC(2026, 11, 7), changed: () => undefined,
  });
}

/** Feeds a head as a follower does; returns the failure's error code, if it failed. */
function feed(v: LogVerification, served: string): string | undefined {
  try {
    v.head(served, (key) => verifyServedHead(LOG, served, key));
    return undefined;
  } catch (err) {
    assert.ok(isCertstreamError(err));
    return err.code;
  }
}

async function evidenceIn(stateDir: string): Promise<Evidence> {
  return waitUntil('the evidence file', 10_000, async () => {
    const names = await readdir(join(stateDir, 'evidence')).catch(() => [] as string[]);
    return names.length === 1 && (JSON.parse(await readFile(join(stateDir, 'evidence', names[0]), 'utf8')) as Evidence);
  });
}

/** A log verified at 10 (head `honest`), its state saved as the cursor store saves it. */
function verifiedState(stateDir: string): SavedVerification {
  const v = verification(stateDir, undefined, undefined);
  v.started(0);
  assert.equal(feed(v, honest), undefined);
  v.leaves(0, leaves, false);
  assert.equal(v.verifiedSize, 10);
  return JSON.parse(JSON.stringify(v.saved())) as SavedVerification;
}

test('evidence written after a restart holds the verified head exactly as served before it', async (t) => {
  const stateDir = await mkdtemp(join(tmpdir(), 'log-verification-'));
  t.after(() => rm(stateDir, { recursive: true, force: true }));
  const saved = verifiedState(stateDir);
  assert.equal(saved.verified_head, honest);

  const restarted = verification(stateDir, 10, saved);
  assert.equal(restarted.state, 'ok');
  assert.equal(feed(restarted, forked), 'VERIFY_ERR_INCONSISTENT');
  const e = await evidenceIn(stateDir);
  assert.equal(e.verified?.served, honest);
  assert.equal(e.conflicts_with?.served, honest);
  assert.equal(e.head?.served, forked);
});

test('a saved body that is not the verified head is not used as its evidence', async (t) => {
  const stateDir = await mkdtemp(join(tmpdir(), 'log-verification-'));
  t.after(() => rm(stateDir, { recursive: true, force: true }));
  // The body of another head of the same size, correctly signed: only its root differs.
  const restarted = verification(stateDir, 10, { ...verifiedState(stateDir), verified_head: forked });
  assert.equal(restarted.state, 'ok', 'the range and head still load');
  assert.equal(feed(restarted, forked), 'VERIFY_ERR_INCONSISTENT');
  const e = await evidenceIn(stateDir);
  assert.equal(e.verified?.served, null, 'no body rather than a wrong one');
  assert.equal(e.conflicts_with?.served, null);
  assert.equal(e.head?.served, forked);
});
