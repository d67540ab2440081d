/**
 * Verified logs against the real server (a child process) and the fake CT log, one lying log per way
 * of lying (issue 21 §3 and §5): an altered entry (root mismatch after one re-fetch), a bad signature, a
 * forked head (same size, another root) and a shrunk head (both inconsistent). Each is counted, shown in
 * /healthz with a last_error naming the reason, kept as evidence, and stops that log at its last
 * verified size while the honest logs keep flowing. A restart keeps a failure (the log does not start
 * trusting again by itself; a bad signature heals only by heads that verify again); the documented
 * reset (the log's entry removed from cursors.json) follows it afresh. A cursor file from before
 * verification is `pending` until the range before the cursor is proven (RFC 6962: get-entry-and-proof;
 * static-ct-api: the hash tiles).
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FakeCtLog } from '../../fake-ct-log/fake-ct-log.js';
import { CURSOR_FILE, parseCursorFile } from '../../src/ct/cursor-store.js';
import type { LogHealth } from '../../src/http/healthz.js';
import type { Evidence } from '../../src/verify/evidence.js';
import { startDaemon, type Daemon } from '../support/spawned-daemon.js';
import { waitUntil } from '../support/wait-until.js';

const LONG = 60_000;

async function healthz(d: Daemon): Promise<Map<string, LogHealth>> {
  const body = (await (await fetch(`http://127.0.0.1:${d.port}/healthz`)).json()) as { logs: LogHealth[] };
  return new Map(body.logs.map((l) => [l.url, l]));
}

async function metric(d: Daemon, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${d.port}/metrics`)).text();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const sel = line.slice(name.length, line.lastIndexOf('}') + 1);
    if (Object.entries(labels).every(([k, v]) => sel.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

/** Waits until every listed log satisfies `test` in /healthz. */
function logsReach(d: Daemon, urls: readonly string[], what: string, test: (l: LogHealth) => boolean): Promise<Map<string, LogHealth>> {
  return waitUntil(what, LONG, async () => {
    const h = await healthz(d);
    return urls.every((u) => h.has(u) && test(h.get(u)!)) && h;
  });
}

async function stop(d: Daemon): Promise<void> {
  d.child.kill('SIGTERM');
  assert.equal(await d.exited, 0);
}

async function evidenceFiles(stateDir: string): Promise<Evidence[]> {
  const names = await readdir(join(stateDir, 'evidence')).catch(() => [] as string[]);
  return Promise.all(names.filter((n) => n.endsWith('.json')).map(async (n) => JSON.parse(await readFile(join(stateDir, 'evidence', n), 'utf8')) as Evidence));
}

describe('verified logs: every way of lying is caught, kept, and only reset by the operator', { timeout: 240_000 }, () => {
  let fake: FakeCtLog;
  let dir: string;
  let logList: string;
  let daemon: Daemon | undefined;
  before(async () => {
    fake = await FakeCtLog.start({ rfc6962Logs: 4, staticLogs: 2, initialSize: 300 });
    dir = await mkdtemp(join(tmpdir(), 'certstream-verified-'));
    logList = join(dir, 'log_list.json');
    await fake.writeLogList(logList);
  });
  after(async () => {
    daemon?.child.kill('SIGKILL');
    await fake.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('catches each lie, keeps the failure over a restart, and follows afresh after the reset', async () => {
    const [rAlter, rFork, rShrink, rHonest, sAlter, sBadSig] = fake.logs.map((l) => l.url);
    const all = fake.logs.map((l) => l.url);
    const stateDir = join(dir, 'state');
    daemon = await startDaemon(logList, stateDir);
    await logsReach(daemon, all, 'every log verified at 300', (l) => l.verification === 'ok' && l.verified_size === 300);
    for (const log of all) {
      for (const reason of ['signature', 'root_mismatch', 'inconsistent']) {
        assert.equal(await metric(daemon, 'certstream_log_verification_failures_total', { log, reason }), 0, `${log} ${reason} exists at 0`);
      }
      assert.equal(await metric(daemon, 'certstream_log_verified_size', { log }), 300);
    }

    // The lies. Altered entries are appended (a root mismatch at the next head, re-fetched once);
    // the forked and shrunk heads contradict the verified head at once.
    fake.misbehave(rAlter, { kind: 'alter-entry', index: 310 });
    fake.misbehave(sAlter, { kind: 'alter-entry', index: 310 });
    fake.misbehave(rFork, { kind: 'fork' });
    fake.misbehave(rShrink, { kind: 'shrink', size: 100 });
    fake.misbehave(sBadSig, { kind: 'bad-signature' });
    for (const log of [rAlter, sAlter, rHonest, sBadSig]) fake.append(20, log);
    const expected: [string, string][] = [[rAlter, 'root_mismatch'], [sAlter, 'root_mismatch'], [rFork, 'inconsistent'], [rShrink, 'inconsistent'], [sBadSig, 'signature']];
    const failed = await logsReach(daemon, expected.map(([u]) => u), 'every lying log failed', (l) => l.verification === 'failed');
    for (const [log, reason] of expected) {
      const h = failed.get(log)!;
      assert.match(h.last_error ?? '', new RegExp(`verification failed \\(${reason}\\)`), log);
      assert.equal(h.verified_size, 300, `${log} stopped at its last verified size`);
      assert.equal(h.next_index, 300, `${log}: nothing past the verified size streamed`);
      assert.equal(await metric(daemon, 'certstream_log_verification_failures_total', { log, reason }), 1, `${log} counted once`);
    }
    // The honest log keeps flowing and verifying.
    await logsReach(daemon, [rHonest], 'the honest log verified at 320', (l) => l.verification === 'ok' && l.verified_size === 320 && l.next_index === 320);
    const healthBody = (await (await fetch(`http://127.0.0.1:${daemon.port}/healthz`)).json()) as { status: string };
    assert.equal(healthBody.status, 'degraded');

    // Evidence: one file per failure, with the heads as served, the sizes, the URL and the key.
    const evidence = await waitUntil('five evidence files', LONG, async () => {
      const e = await evidenceFiles(stateDir);
      return e.length === 5 && e;
    });
    const keys = new Map((fake.logList().operators as { logs?: { key: string; url?: string }[]; tiled_logs?: { key: string; monitoring_url: string }[] }[])
      .flatMap((o) => [...(o.logs ?? []).map((l) => [l.url!, l.key] as const), ...(o.tiled_logs ?? []).map((l) => [l.monitoring_url, l.key] as const)]));
    for (const [log, reason] of expected) {
      const e = evidence.find((x) => x.log === log);
      assert.ok(e, `evidence of ${log}`);
      assert.equal(e.reason, reason);
      assert.equal(e.key, keys.get(log));
      assert.equal(e.verified?.tree_size, 300);
      if (reason === 'root_mismatch') {
        assert.equal(e.head?.tree_size, 320);
        assert.ok(e.head?.served, 'the failing head as served');
        assert.equal(e.head?.root, fake.rootAt(log, 320)!.toString('base64'), 'the signed root is the honest one');
        assert.notEqual(e.computed_root, e.head?.root);
      } else if (reason === 'inconsistent') {
        assert.ok(e.head?.served && e.conflicts_with, 'both heads');
        assert.equal(e.conflicts_with.tree_size, 300);
        assert.equal(e.head.tree_size, log === rShrink ? 100 : 300);
        assert.notEqual(e.head.root, e.conflicts_with.root);
      } else {
        assert.match(e.served_head ?? '', /— /, 'the checkpoint as served, with its signature line');
      }
    }

    // A restart keeps every failure, even with the logs honest again — except the bad signature,
    // which heals by heads that verify again.
    await stop(daemon);
    for (const log of all) fake.behave(log);
    daemon = await startDaemon(logList, stateDir);
    await logsReach(daemon, [sBadSig], 'the bad-signature log verified again', (l) => l.verification === 'ok' && l.verified_size === 320);
    await logsReach(daemon, [rHonest], 'the honest log polled after the restart', (l) => l.last_success !== null);
    const kept = await healthz(daemon);
    for (const [log, reason] of expected.filter(([u]) => u !== sBadSig)) {
      const h = kept.get(log)!;
      assert.equal(h.verification, 'failed', `${log} still failed after the restart`);
      assert.match(h.last_error ?? '', new RegExp(`\\(${reason}\\)`));
      assert.equal(h.next_index, 300);
      assert.equal(h.verified_size, 300, `${log} still reports its last verified size`);
    }

    // The documented reset: remove the log's entry from cursors.json while the server is stopped.
    await stop(daemon);
    const file = JSON.parse(await readFile(join(stateDir, CURSOR_FILE), 'utf8')) as { logs: Record<string, unknown> };
    delete file.logs[rAlter];
    await writeFile(join(stateDir, CURSOR_FILE), JSON.stringify(file));
    daemon = await startDaemon(logList, stateDir);
    const reset = await logsReach(daemon, [rAlter], 'the reset log verified afresh', (l) => l.verification === 'ok' && l.verified_size === 320);
    assert.equal(reset.get(rFork)!.verification, 'failed', 'a reset is per log');
    await stop(daemon);
    daemon = undefined;
    assert.equal(parseCursorFile(await readFile(join(stateDir, CURSOR_FILE), 'utf8')).get(rAlter), 320);
  });

  it('a cursor file from before verification: pending until the range before the cursor is proven', async () => {
    const [rfc] = fake.logs.filter((l) => l.kind === 'rfc6962').map((l) => l.url).slice(3);
    const [, stat] = fake.logs.filter((l) => l.kind === 'static').map((l) => l.url);
    const stateDir = join(dir, 'old-state');
    await mkdir(stateDir, { recursive: true });
    await writeFile(join(stateDir, CURSOR_FILE), JSON.stringify({ version: 1, logs: { [rfc]: 100, [stat]: 100 } }));
    // Hold the proofs back, so that `pending` is seen before they arrive.
    fake.injectFault(rfc, { status: 503, times: 1_000_000, only: 'get-entry-and-proof' });
    fake.injectFault(stat, { status: 503, times: 1_000_000, only: 'tile/0/' });
    daemon = await startDaemon(logList, stateDir, ['--logs-include', `^(${[rfc, stat].map((u) => u.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|')})$`]);
    const size = fake.size(rfc);
    const pending = await logsReach(daemon, [rfc, stat], 'both logs streamed, pending', (l) => l.verification === 'pending' && l.next_index >= 300);
    assert.equal(pending.get(rfc)!.verified_size, null);
    // The proofs arrive (RFC 6962: get-entry-and-proof; static-ct-api: the hash tiles): both verify from there on.
    const staticSize = fake.size(stat);
    fake.clearFaults(rfc);
    fake.clearFaults(stat);
    fake.append(5, rfc);
    fake.append(5, stat);
    await logsReach(daemon, [rfc], 'the old-cursor RFC 6962 log verified', (l) => l.verification === 'ok' && l.verified_size === size + 5);
    await logsReach(daemon, [stat], 'the old-cursor static log verified', (l) => l.verification === 'ok' && l.verified_size === staticSize + 5);
    assert.ok(fake.requests.entryAndProof >= 1);
    assert.ok(fake.requests.hashTiles >= 1);
    await stop(daemon);
    daemon = undefined;
  });
});
