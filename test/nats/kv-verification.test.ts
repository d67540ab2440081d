// Issue 21 in NATS mode, against a real nats-server and the fake CT log: the key-value cursor bucket
// keeps each log's verification state with its cursor, as the cursor file does. A restarted ingest (on
// a fresh state directory: what it knows comes from the bucket) still holds a log that failed
// verification, and goes on verifying an honest log at once, never `pending`. The body of the last
// verified head is kept too: evidence written after the restart holds it exactly as served.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LogHealth } from '../../src/http/healthz.js';
import type { ServerHandle } from '../../src/server.js';
import type { Evidence } from '../../src/verify/evidence.js';
import { NatsServer, natsSkip } from '../support/nats-server.js';
import { waitUntil } from '../support/wait-until.js';
import { startFake, startReal, tempDir, testConfig } from '../server/server-harness.js';

const LONG = 30_000;

function logsOf(server: ServerHandle): Map<string, LogHealth> {
  return new Map(server.health().logs.map((l) => [l.url, l]));
}

/** Waits until every listed log satisfies `ok` in the server's health. */
function logsReach(server: ServerHandle, urls: readonly string[], what: string, ok: (l: LogHealth) => boolean): Promise<Map<string, LogHealth>> {
  return waitUntil(what, LONG, () => {
    const logs = logsOf(server);
    return urls.every((u) => logs.has(u) && ok(logs.get(u)!)) && logs;
  });
}

test('NATS mode: a restarted ingest keeps a verification failure, verifies an honest log at once, and writes complete evidence', { skip: natsSkip(), timeout: 120_000 }, async (t) => {
  const nats = await NatsServer.start();
  const servers: ServerHandle[] = [];
  // Servers save their cursors to NATS when they close: they go first, NATS after them.
  t.after(async () => {
    for (const s of servers) await s.close().catch(() => undefined);
    await nats.dispose();
  });
  const fake = await startFake(t, { rfc6962Logs: 3, staticLogs: 1, initialSize: 300 });
  const [lying, forked, honest, tiled] = fake.logs.map((l) => l.url);
  const all = [lying, forked, honest, tiled];
  const ingest = async () => {
    const stateDir = await tempDir(t);
    const server = await startReal(testConfig(fake, stateDir, { nats: nats.url, role: 'ingest', backfill: 1_000_000 }));
    servers.push(server);
    return { server, stateDir };
  };

  const { server: first } = await ingest();
  await logsReach(first, all, 'every log verified at 300', (l) => l.verification === 'ok' && l.verified_size === 300);
  fake.misbehave(lying, { kind: 'alter-entry', index: 310 });
  fake.append(20);
  await logsReach(first, [lying], 'the lying log failed', (l) => l.verification === 'failed');
  await logsReach(first, [forked, honest, tiled], 'the honest logs verified at 320', (l) => l.verification === 'ok' && l.verified_size === 320 && l.next_index === 320);
  await first.close();
  servers.splice(0);

  // The lying log is honest again: only the saved failure can hold it. Another log forks its head
  // before the restarted ingest reads it: that ingest never saw the verified head's body itself.
  fake.behave(lying);
  fake.misbehave(forked, { kind: 'fork' });
  const { server: second, stateDir } = await ingest();
  // The first health that lists the logs: their state came from the bucket.
  const restarted = await logsReach(second, all, 'the restarted ingest lists every log', () => true);
  const held = restarted.get(lying)!;
  assert.equal(held.verification, 'failed', 'a restart keeps the failure');
  assert.match(held.last_error ?? '', /verification failed \(root_mismatch\)/);
  assert.equal(held.verified_size, 300);
  for (const url of [honest, tiled]) {
    assert.equal(restarted.get(url)!.verification, 'ok', `${url}: verifying at once, not pending`);
    assert.equal(restarted.get(url)!.verified_size, 320);
  }
  fake.append(5, honest);
  fake.append(5, tiled);
  await logsReach(second, [honest, tiled], 'the honest logs verified at 325', (l) => l.verification === 'ok' && l.verified_size === 325);
  assert.equal(logsOf(second).get(lying)!.next_index, 300, 'nothing of the lying log streamed after the restart');

  // Evidence written after the restart is as complete as before one: both heads as served.
  await logsReach(second, [forked], 'the forked log failed', (l) => l.verification === 'failed');
  const evidence = await waitUntil('the evidence file', LONG, async () => {
    const names = await readdir(join(stateDir, 'evidence')).catch(() => [] as string[]);
    return names.length === 1 && (JSON.parse(await readFile(join(stateDir, 'evidence', names[0]), 'utf8')) as Evidence);
  });
  assert.equal(evidence.reason, 'inconsistent');
  assert.equal(evidence.log, forked);
  assert.equal(evidence.verified?.tree_size, 320);
  assert.ok(evidence.head?.served, 'the forked head as served');
  assert.equal(evidence.conflicts_with?.tree_size, 320);
  const servedBefore = JSON.parse(evidence.conflicts_with.served ?? 'null') as { tree_size: number; sha256_root_hash: string } | null;
  assert.ok(servedBefore, 'the verified head as served before the restart');
  assert.equal(servedBefore.tree_size, 320);
  assert.equal(servedBefore.sha256_root_hash, fake.rootAt(forked, 320)!.toString('base64'));
  assert.equal(evidence.verified.served, evidence.conflicts_with.served);
});
