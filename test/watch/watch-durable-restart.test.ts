/**
 * Issue 13's lossless guarantee that needs the server's durable subscriptions (`?id=NAME`, issue
 * "Lossless delivery"): certificates that flow while the watcher is down (after a `kill -9` in the
 * middle of the stream) and while the daemon restarts are still matched, stored once and alerted once.
 * The watcher confirms a frame (answers the server's ping) only once it is committed; the server
 * replays what was not confirmed. Until the server keeps durable positions this test fails: that is
 * the guarantee it asserts, not a flaky test.
 *
 * The reference is itself a durable client (the watcher's own DurableFeed under another id), checked
 * to be complete: every log's indices form one unbroken range.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FakeCtLog } from '../../fake-ct-log/fake-ct-log.js';
import { parseCertFrame, type CertEntry } from '../../src/watch/cert-frame.js';
import { DurableFeed } from '../../src/watch/durable-feed.js';
import {
  alertKey, expectedMatches, freePort, rowKey, startDaemon, startWatcher, storedMatches, until, WATCH_LIST, WebhookSink, type Proc,
} from './support/harness.js';

describe('certstream-watch: lossless across a kill -9 mid-stream and a daemon restart (needs durable subscriptions)', { timeout: 240_000 }, () => {
  let fake: FakeCtLog;
  let dir: string;
  let port: number;
  let daemon: { proc: Proc; port: number };
  const sink = new WebhookSink();
  const seen = new Map<string, CertEntry>();
  let ref: DurableFeed;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'watch-durable-'));
    fake = await FakeCtLog.start({ rfc6962Logs: 1, staticLogs: 1, initialSize: 100 });
    port = await freePort();
    daemon = await startDaemon(fake.logListUrl, join(dir, 'state'), port);
    ref = new DurableFeed({
      url: `ws://127.0.0.1:${port}/`, id: 'test-reference', pingIntervalMs: 1000, backoffBaseMs: 100, backoffMaxMs: 500,
      onFrames: async (frames) => {
        for (const f of frames) {
          const c = parseCertFrame(f);
          if (c) seen.set(`${c.log}#${c.index}`, c);
        }
      },
    });
    ref.start();
    await sink.start();
  });
  after(async () => {
    await ref?.stop();
    daemon?.proc.child.kill('SIGKILL');
    await sink.close();
    await fake?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Waits until the reference holds every entry the fake logs have appended since `from` (per log). */
  async function referenceComplete(from: number): Promise<void> {
    await until(() => `reference has ${seen.size} entries`, () => fake.logs.every((l) => {
      for (let i = from; i < fake.size(l.url); i++) if (!seen.has(`${l.url.replace(/^https?:\/\//, '').replace(/\/+$/, '')}#${i}`)) return false;
      return true;
    }), 90_000);
  }

  it('every match stored once and alerted once', async () => {
    const db = `sqlite:${join(dir, 'watch.sqlite')}`;
    const watchFile = join(dir, 'brand.watch');
    await writeFile(watchFile, WATCH_LIST);
    const args = ['--feed', `ws://127.0.0.1:${port}/`, '--watch', watchFile, '--db', db, '--webhook', sink.url, '--webhook-backoff', '0.05', '--webhook-backoff-max', '0.3'];
    const from = 100;

    // A kill -9 while certificates flow, and more certificates while the watcher is down.
    const w1 = startWatcher(args);
    await w1.line('feed connected');
    fake.append(600);
    await until(async () => 'a first match stored', async () => (await storedMatches(db)).length > 0);
    w1.child.kill('SIGKILL');
    await w1.exited;
    fake.append(400);
    await referenceComplete(from);

    const w2 = startWatcher(args);
    await w2.line('feed connected');
    // A clean restart of the daemon, with certificates appended while it is down.
    daemon.proc.child.kill('SIGTERM');
    assert.equal(await daemon.proc.exited, 0);
    fake.append(400);
    daemon = await startDaemon(fake.logListUrl, join(dir, 'state'), port);
    fake.append(200);
    await referenceComplete(from);

    const exp = expectedMatches([...seen.values()]);
    await until(async () => `stored ${(await storedMatches(db)).length} of ${exp.rows.size}`, async () => (await storedMatches(db)).length >= exp.rows.size, 90_000);
    await until(() => `${sink.received.length} of ${exp.alerts.size} alerts`, () => sink.received.length >= exp.alerts.size, 60_000);
    w2.child.kill('SIGTERM');
    assert.equal(await w2.exited, 0, w2.stderr());

    const stored = await storedMatches(db);
    assert.deepEqual(new Set(stored.map(rowKey)), exp.rows);
    assert.equal(stored.length, exp.rows.size);
    // Delivery is at least once: a kill -9 between the endpoint's 2xx and the database update repeats that
    // POST, with the same `id` (the Idempotency-Key a receiver de-duplicates on). So: one id per alert.
    const ids = new Map<string, Set<string>>();
    for (const b of sink.received) {
      const key = alertKey(b as never);
      ids.set(key, (ids.get(key) ?? new Set<string>()).add((b as { id: string }).id));
    }
    assert.deepEqual(new Set(ids.keys()), exp.alerts);
    assert.deepEqual([...ids].filter(([, set]) => set.size !== 1).map(([k]) => k), []);
    assert.ok(sink.received.length - exp.alerts.size <= 2, `${sink.received.length - exp.alerts.size} repeated POSTs: more than the in-flight ones at the kill`);
  });
});
