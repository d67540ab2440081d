// `?verified=1` on the real hub with a real replay window and real ws clients (interface.md "Verified
// logs", issue 21 §4): the coverage is driven here exactly as the ingest's verification drives it
// (VerifiedCoverage.update from LogVerification's hook). A verified client receives an entry only once
// its log's verified size passes its cert_index, held per log (one log never holds another back), the
// frames byte-identical to a plain client's, per-log order kept; logs that can never be proven
// (unverifiable, stopped for lying) give it nothing more; with id it resumes across a cut with nothing
// lost; with match it gets only the matching covered entries; a bad value is refused with 400.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServerMetrics } from '../../src/metrics/server-metrics.js';
import { LocalReplayWindow } from '../../src/replay/local-replay-window.js';
import { PositionStore } from '../../src/stream/durable-positions.js';
import type { StreamFrames } from '../../src/stream/fanout-hub.js';
import { VerifiedCoverage } from '../../src/stream/verified-coverage.js';
import { caughtUp, recordFrames, upgradeAnswer, type Recorded } from '../support/stream-probe.js';
import { waitUntil } from '../support/wait-until.js';
import { startHub, type Harness } from './hub-harness.js';

const A = 'https://a.example/log/';
const B = 'https://b.example/log/';
const C = 'https://c.example/log/';

interface Verified {
  h: Harness;
  coverage: VerifiedCoverage;
  positions: PositionStore;
  /** Publishes entries [from, from + count) of `log`, in one batch. */
  publish(log: string, from: number, count: number): void;
}

async function start(t: { after(fn: () => Promise<void> | void): void }, cacheBytes?: number, heartbeatIntervalMs = 0): Promise<Verified> {
  const dir = mkdtempSync(join(tmpdir(), 'verified-'));
  const window = LocalReplayWindow.open({ stateDir: dir, windowSeconds: 3600, maxBytes: 1e9, cacheBytes, segmentBytes: 256 * 1024 });
  const positions = await PositionStore.open({ stateDir: dir, beforeWrite: () => window.sync() });
  const coverage = new VerifiedCoverage();
  const h = await startHub({ metrics: createServerMetrics({ processMetrics: false }), coverage, heartbeatIntervalMs, durable: { window, positions, pingIntervalMs: 20, pongTimeoutMs: 2000 } });
  t.after(async () => {
    await h.close();
    await positions.close();
    await window.close();
    rmSync(dir, { recursive: true, force: true });
  });
  for (const log of [A, B, C]) coverage.update(log, 0, 'ok', false);
  coverage.markReady();
  const seen = Math.floor(Date.now() / 1000) - 100;
  return {
    h,
    coverage,
    positions,
    publish(log, from, count) {
      const out: StreamFrames[] = [];
      for (let i = from; i < from + count; i++) {
        const data = `"cert_index":${i},"source":{"url":"${log}"},"all_domains":["d${i}.${new URL(log).hostname}"]`;
        out.push({
          lite: `{"data":{"leaf_cert":{"all_domains":["d${i}.${new URL(log).hostname}"]},${data},"kind":"lite"},"message_type":"certificate_update"}`,
          full: `{"data":{"leaf_cert":{"all_domains":["d${i}.${new URL(log).hostname}"]},${data},"kind":"full"},"message_type":"certificate_update"}`,
          domains: `{"data":["d${i}.${new URL(log).hostname}"],"message_type":"dns_entries"}`,
          log,
          index: i,
          seen,
        });
      }
      h.hub.publish(out);
    },
  };
}

/** (log host, index) of a frame of any stream. */
function identity(frame: string): string {
  const m = /"d(\d+)\.([a-z.]+)"/.exec(frame)!;
  return `${m[2]}#${m[1]}`;
}

function ids(log: string, from: number, to: number): string[] {
  return Array.from({ length: to - from }, (_, i) => `${new URL(log).hostname}#${from + i}`);
}

/** The frames of `r` per log, in arrival order. */
function perLog(r: Recorded, log: string): string[] {
  return r.raw.filter((f) => identity(f).startsWith(`${new URL(log).hostname}#`));
}

test('a verified client gets each log\'s entries only up to its verified size, per log, byte-identical to a plain client\'s', async (t) => {
  const v = await start(t);
  for (const path of ['/', '/full-stream', '/domains-only']) {
    const base = v.h.hub.stats().published;
    const offset = base / 2; // each round publishes A and B entries from where the last round stopped
    const plain = await recordFrames(`${v.h.url}${path}`);
    const verified = await recordFrames(`${v.h.url}${path}?verified=1`);
    v.publish(A, offset, 100);
    v.publish(B, offset, 100);
    await waitUntil('the plain client has all 200', 5000, () => plain.raw.length === 200);
    await caughtUp(verified.ws);
    assert.deepEqual(verified.raw, [], `${path}: nothing is covered yet`);
    // A proven up to offset+50: its first 50 flow; B stays held and does not hold A back.
    v.coverage.update(A, offset + 50, 'ok', false);
    await waitUntil('A up to its verified size', 5000, () => verified.raw.length === 50);
    await caughtUp(verified.ws);
    assert.deepEqual(verified.raw.map(identity), ids(A, offset, offset + 50), path);
    v.coverage.update(B, offset + 100, 'ok', false);
    v.coverage.update(A, offset + 100, 'ok', false);
    await waitUntil('everything', 5000, () => verified.raw.length === 200);
    await caughtUp(verified.ws);
    assert.deepEqual(perLog(verified, A), perLog(plain, A), `${path}: A byte-identical, in order`);
    assert.deepEqual(perLog(verified, B), perLog(plain, B), `${path}: B byte-identical, in order`);
    // Covered at publish (a follower checks a window's root before it hands it on): straight through.
    v.publish(A, offset + 100, 10);
    v.coverage.update(A, offset + 120, 'ok', false);
    v.publish(A, offset + 110, 10);
    await waitUntil('the covered batches', 5000, () => verified.raw.length === 220);
    assert.deepEqual(perLog(verified, A), perLog(plain, A).slice(0, 120));
    plain.ws.close();
    verified.ws.close();
    await waitUntil('clients gone', 5000, () => v.h.hub.clientCount === 0);
    // The next round starts past every index used (both logs at offset + 120).
    v.publish(B, offset + 100, 20);
    v.coverage.update(B, offset + 120, 'ok', false);
  }
});

test('a lying log stops at its last verified size for verified clients, an unverifiable one gives nothing, and the others keep flowing', async (t) => {
  const v = await start(t);
  v.coverage.update(C, null, 'unverifiable', false);
  const plain = await recordFrames(`${v.h.url}/`);
  const verified = await recordFrames(`${v.h.url}/?verified=1`);
  v.publish(A, 0, 100); // a catch-up streamed before its head was reached
  v.publish(C, 0, 30);
  v.publish(B, 0, 50);
  v.coverage.update(B, 50, 'ok', false);
  await waitUntil('B flows past the held A and the unverifiable C', 5000, () => verified.raw.length === 50);
  // A's root at 100 does not match: stopped for good at its last verified size, 40.
  v.coverage.update(A, 40, 'failed', true);
  v.publish(B, 50, 50);
  v.coverage.update(B, 100, 'ok', false);
  await waitUntil('A up to 40 and the rest of B', 5000, () => verified.raw.length === 140);
  await caughtUp(verified.ws);
  assert.equal(plain.raw.length, 230, 'a plain client got everything as fetched');
  assert.deepEqual(perLog(verified, A).map(identity), ids(A, 0, 40), 'nothing of A beyond its last verified size');
  assert.deepEqual(perLog(verified, B).map(identity), ids(B, 0, 100));
  assert.deepEqual(perLog(verified, C), [], 'nothing of a log that cannot be proven');
});

test('verified with id resumes across a cut with nothing lost; with match only the matching covered entries', async (t) => {
  const v = await start(t, 64 * 1024);
  const url = `${v.h.url}/full-stream?id=prover&verified=1`;
  const r1 = await recordFrames(url);
  const filtered = await recordFrames(`${v.h.url}/?verified=1&match=${encodeURIComponent('~7')}`);
  v.publish(A, 0, 300);
  v.publish(B, 0, 300);
  v.coverage.update(B, 300, 'ok', false);
  await waitUntil('B', 5000, () => r1.raw.length === 300);
  // A is held at seq 0: the confirmed position stays there, whatever of B was written.
  await waitUntil('position confirmed at A\'s first held entry', 5000, () => v.positions.get('prover', 'full') === 0);
  r1.ws.terminate();
  await waitUntil('client gone', 5000, () => v.h.hub.clientCount === 1);
  for (let i = 300; i < 3000; i += 100) v.publish(A, i, 100); // mostly out of the memory cache
  v.coverage.update(A, 2000, 'ok', false);
  const r2 = await recordFrames(url);
  await waitUntil('A up to 2000 after the resume', 10_000, () => perLog(r2, A).length === 2000);
  v.coverage.update(A, 3000, 'ok', false);
  await waitUntil('all of A', 10_000, () => perLog(r2, A).length === 3000);
  await caughtUp(r2.ws);
  assert.deepEqual(perLog(r2, A).map(identity), ids(A, 0, 3000), 'every entry of A, in order, none lost');
  // B after the confirmed position comes again (at most what was unconfirmed), in order.
  assert.deepEqual(perLog(r2, B).map(identity), ids(B, 0, 300));
  await caughtUp(filtered.ws);
  const sevens = (ids_: string[]) => ids_.filter((x) => x.split('#')[1].includes('7'));
  assert.deepEqual(filtered.raw.map(identity), [...sevens(ids(B, 0, 300)), ...sevens(ids(A, 0, 2000)), ...sevens(ids(A, 2000, 3000))]);
});

test('heartbeats flow to a verified client while it holds entries back', async (t) => {
  const v = await start(t, undefined, 20);
  const verified = await recordFrames(`${v.h.url}/?verified=1`);
  // Entries of A keep coming, none covered: most heartbeats share a flush with them.
  let next = 0;
  const publisher = setInterval(() => {
    v.publish(A, next, 5);
    next += 5;
  }, 3);
  t.after(() => clearInterval(publisher));
  await waitUntil('five heartbeats', 5000, () => verified.raw.filter((f) => f.startsWith('{"message_type":"heartbeat"')).length >= 5);
  clearInterval(publisher);
  assert.ok(verified.raw.every((f) => f.startsWith('{"message_type":"heartbeat"')), 'no entry: none is covered');
});

test('a bad verified value is refused with one line (400), as is verified=1 without the replay window', async (t) => {
  const v = await start(t);
  for (const bad of ['yes', 'true', '2', '']) {
    const a = await upgradeAnswer(`${v.h.url}/?verified=${bad}`);
    assert.equal(a.status, 400, bad);
    assert.match(a.body, /^bad verified "[^"]*": 1 \(only entries a verified signed tree head covers\) or 0\n$/);
  }
  assert.equal((await upgradeAnswer(`${v.h.url}/?verified=1&verified=1`)).status, 400);
  assert.equal((await upgradeAnswer(`${v.h.url}/domains-only?verified=0`)).status, 101);
  const windowless = await startHub();
  t.after(() => windowless.close());
  const a = await upgradeAnswer(`${windowless.url}/?verified=1`);
  assert.equal(a.status, 400);
  assert.match(a.body, /verified=1 needs the replay window, which is off/);
});
