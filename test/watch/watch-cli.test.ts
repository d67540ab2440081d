/**
 * Issue 13, end to end: the real daemon following the fake CT log, the real `certstream-watch run`
 * spawned from its CLI, a webhook receiver the test controls. With SQLite and with a real PostgreSQL:
 * - every expected match is stored once, across a `kill -9` of the watcher while its webhook is down
 *   and deliveries are pending;
 * - the restarted watcher delivers every pending alert and the new ones to an endpoint that fails
 *   every third request, each alert exactly once (a precertificate/certificate pair, and the same
 *   certificate seen in two logs, alert once);
 * - metrics per the contract; `export` writes what was stored; SIGTERM exits 0.
 * (Watcher downtime while certificates flow, and a restart of the daemon, need durable subscriptions:
 * watch-durable-restart.test.ts.)
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FakeCtLog } from '../../fake-ct-log/fake-ct-log.js';
import {
  alertKey, expectedMatches, ReferenceClient, rowKey, startDaemon, startWatcher, storedMatches, until, WATCH_LIST, WebhookSink, type Proc,
} from './support/harness.js';
import { findPostgres, startPostgres, type TestPostgres } from './support/postgres.js';

const ROOT = join(import.meta.dirname, '../..');

/** Resolves once every log of the daemon was polled (entries appended later are streamed, not taken as the start). */
async function allPolled(port: number): Promise<void> {
  await until(() => 'every log polled once', async () => {
    const h = (await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as { logs: { last_success: number | null }[] };
    return h.logs.length > 0 && h.logs.every((l) => l.last_success !== null);
  });
}

function e2e(name: string, dbFor: (dir: string) => Promise<string>): void {
  describe(`certstream-watch end to end: ${name}`, { timeout: 240_000 }, () => {
    let fake: FakeCtLog;
    let dir: string;
    let daemon: { proc: Proc; port: number };
    let ref: ReferenceClient;
    const sink = new WebhookSink();
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'watch-e2e-'));
      fake = await FakeCtLog.start({ rfc6962Logs: 1, staticLogs: 1, initialSize: 100 });
      daemon = await startDaemon(fake.logListUrl, join(dir, 'state'));
      await allPolled(daemon.port);
      ref = new ReferenceClient(daemon.port);
      await ref.opened();
      await sink.start();
    });
    after(async () => {
      ref?.close();
      daemon?.proc.child.kill('SIGKILL');
      await sink.close();
      await fake?.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('stores every match once and alerts every certificate once, across a kill -9, with a flaky webhook', async () => {
      const db = await dbFor(dir);
      const watchFile = join(dir, 'brand.watch');
      await writeFile(watchFile, WATCH_LIST);
      const args = ['--feed', `ws://127.0.0.1:${daemon.port}/`, '--watch', watchFile, '--db', db, '--webhook', sink.url,
        '--webhook-backoff', '0.05', '--webhook-backoff-max', '0.3', '--metrics-port', '0'];
      const logs = fake.logs.map((l) => l.url);
      const streamed = () => ref.entries.length;
      let total = 0;

      // Phase 1: the endpoint is down; matches are stored, their deliveries pile up.
      sink.fail = () => true;
      const w1 = startWatcher(args);
      await w1.line('feed connected');
      fake.append(700);
      total += 700 * logs.length;
      await until(() => `${streamed()} of ${total} entries streamed`, () => streamed() === total);
      const exp1 = expectedMatches(ref.entries);
      assert.ok(exp1.rows.size > 50 && exp1.alerts.size < exp1.rows.size, `a useful test: ${exp1.rows.size} rows, ${exp1.alerts.size} alerts`);
      await until(async () => `stored ${(await storedMatches(db)).length} of ${exp1.rows.size}`, async () => (await storedMatches(db)).length >= exp1.rows.size);
      await until(() => 'the webhook tried', () => sink.requests > 0);
      w1.child.kill('SIGKILL');
      assert.equal(await w1.exited, 'SIGKILL');
      assert.equal(sink.received.length, 0);
      const stored1 = await storedMatches(db);
      assert.deepEqual(new Set(stored1.map(rowKey)), exp1.rows);
      assert.equal(stored1.length, exp1.rows.size, 'no match stored twice');

      // Phase 2: restart; the endpoint fails every third request; more certificates arrive.
      sink.fail = (n) => n % 3 === 0;
      const failuresBefore = sink.failures;
      const w2 = startWatcher(args);
      const metricsPort = (await w2.line('metrics listening')).port as number;
      await w2.line('feed connected');
      fake.append(300);
      total += 300 * logs.length;
      await until(() => `${streamed()} of ${total} entries streamed`, () => streamed() === total);
      const exp2 = expectedMatches(ref.entries);
      await until(async () => `stored ${(await storedMatches(db)).length} of ${exp2.rows.size}`, async () => (await storedMatches(db)).length >= exp2.rows.size);
      await until(() => `${new Set(sink.received.map((b) => alertKey(b as never))).size} of ${exp2.alerts.size} alerts received`,
        () => new Set(sink.received.map((b) => alertKey(b as never))).size >= exp2.alerts.size);

      const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      assert.match(metrics, /^certwatch_feed_up 1$/m);
      assert.match(metrics, /^certwatch_matches_total\{rule="~login-"\} [1-9]/m);
      // A series of each rule exists from the start, at 0 until it counts something (the regex never overran).
      assert.match(metrics, /^certwatch_regex_timeouts_total\{rule="\/\^pay-.*"\} 0$/m);
      assert.match(metrics, /^certwatch_webhook_failures_total [1-9]/m);
      assert.match(metrics, /^certwatch_lag_seconds /m);

      w2.child.kill('SIGTERM');
      assert.equal(await w2.exited, 0, w2.stderr());

      const stored2 = await storedMatches(db);
      assert.deepEqual(new Set(stored2.map(rowKey)), exp2.rows);
      assert.equal(stored2.length, exp2.rows.size, 'no match stored twice');
      const counts = new Map<string, number>();
      for (const b of sink.received) counts.set(alertKey(b as never), (counts.get(alertKey(b as never)) ?? 0) + 1);
      assert.deepEqual(new Set(counts.keys()), exp2.alerts, 'every certificate alerted');
      assert.deepEqual([...counts].filter(([, n]) => n !== 1), [], 'and each exactly once');
      assert.ok(sink.failures > failuresBefore, 'the endpoint did fail in phase 2');
      for (const b of sink.received) {
        assert.equal(b.idempotency_key, b.id);
        assert.match(String(b.text), /matched rule/);
      }

      const out = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/certstream-watch.ts'), 'export', '--db', db, '--format', 'csv'], {
        cwd: ROOT, encoding: 'utf8',
      });
      assert.equal(out.status, 0, out.stderr);
      const lines = out.stdout.trimEnd().split('\n');
      assert.equal(lines[0], 'time,domain,rule,log,cert_index,fingerprint,serial,issuer,not_before,not_after,update_type,sighting_of,domain_unicode');
      assert.equal(lines.length - 1, exp2.rows.size);
    });
  });
}

e2e('SQLite', async (dir) => `sqlite:${join(dir, 'watch.sqlite')}`);

const pgFound = findPostgres();
if ('missing' in pgFound && process.env.CI) throw new Error(`PostgreSQL is required under CI: ${pgFound.missing}`);
if ('missing' in pgFound) {
  describe('certstream-watch end to end: PostgreSQL', () => {
    it('SKIPPED: PostgreSQL is not installed here', { skip: pgFound.missing }, () => {});
  });
} else {
  let pg: TestPostgres | undefined;
  after(() => pg?.stop());
  e2e('PostgreSQL', async () => {
    pg = await startPostgres(pgFound.bin);
    return pg.createDatabase('watch_e2e');
  });
}
