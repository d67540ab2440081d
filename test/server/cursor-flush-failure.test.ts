/**
 * Issue 10 item 7: an unwritable state directory. The flush failures are counted, logged rate-limited,
 * shown in /healthz (degraded), and a stop whose final flush fails rejects, so the CLI exits non-zero.
 * The directory is replaced by a plain file (ENOTDIR): that fails for root too, unlike a chmod.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { isCertstreamError } from '../../src/errors.js';
import { createLogger } from '../../src/log/logger.js';
import { createServerMetrics } from '../../src/metrics/server-metrics.js';
import { startServer } from '../../src/server.js';
import { metricValue } from '../stream/hub-harness.js';
import { polledAll, pollUntil, startFake, tempDir, testConfig, whenFake } from './server-harness.js';

async function setup(t: { after(fn: () => Promise<void>): void }) {
  const fake = await startFake(t);
  const parent = await tempDir(t);
  const stateDir = join(parent, 'state');
  const metrics = createServerMetrics({ processMetrics: false });
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) });
  const server = await startServer(testConfig(fake, stateDir), { logger, metrics, env: {}, ingest: { partialTileDelayMs: 0, cursorFlushMs: 20 } });
  t.after(() => server.close().catch(() => undefined));
  await whenFake(fake, () => polledAll(server) && server.health().status === 'ok');
  const errors = () => metricValue(metrics, 'certstream_cursor_flush_errors_total', {});
  const breakDir = async () => {
    // A rename, not a recursive rm: a flush may be writing its temp file into the directory right now.
    await rename(stateDir, `${stateDir}.moved`);
    await writeFile(stateDir, 'not a directory\n');
    fake.append(5); // the cursors move: the store has something to write
  };
  const repairDir = async () => {
    await rm(stateDir, { force: true });
    await mkdir(stateDir);
    fake.append(5);
  };
  return { fake, server, errors, lines, breakDir, repairDir };
}

test('an unwritable state dir is counted, logged once a minute, degrades /healthz, and fails the stop', { timeout: 60_000 }, async (t) => {
  const { server, errors, lines, breakDir } = await setup(t);
  await breakDir();
  await pollUntil('five failed flushes', async () => (await errors()) >= 5);
  const body = (await (await fetch(`${server.url}/healthz`)).json()) as { status: string; cursors: { last_error: string | null; flush_errors: number } };
  assert.equal(body.status, 'degraded');
  assert.match(body.cursors.last_error ?? '', /cannot write cursor file .*cursors\.json/);
  assert.ok(body.cursors.flush_errors >= 5);
  const failedLines = lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('cursor file flush failed'));
  assert.equal(failedLines.length, 1, 'one line, not one per flush period');

  await assert.rejects(server.close(), (err) => isCertstreamError(err, 'STATE_ERR_IO'), 'the final flush failed: the stop must not look clean');
  assert.equal(server.hub.clientCount, 0, 'everything else was still closed');
  await assert.rejects(fetch(`${server.url}/healthz`), 'the listener is closed');
});

test('once the state dir is writable again, health is ok and the stop is clean', { timeout: 60_000 }, async (t) => {
  const { server, errors, lines, breakDir, repairDir } = await setup(t);
  await breakDir();
  await pollUntil('a failed flush', async () => (await errors()) >= 1);
  assert.equal(server.health().status, 'degraded');
  await repairDir();
  await pollUntil('a successful flush', () => server.health().cursors.last_error === null);
  assert.equal(server.health().status, 'ok');
  assert.ok(server.health().cursors.flush_errors >= 1, 'the failures stay counted');
  assert.ok(lines.some((l) => l.msg === 'cursor file written again after failures'));
  await server.close();
});

test('the daemon exits non-zero on SIGTERM when the final flush fails, so the unit sees it', { timeout: 60_000 }, async (t) => {
  const fake = await startFake(t);
  const parent = await tempDir(t);
  const stateDir = join(parent, 'state');
  const entry = join(import.meta.dirname, '../../src/cli/certstream-server.ts');
  const args = ['--host', '127.0.0.1', '--port', '0', '--log-list', fake.logListUrl, '--state-dir', stateDir, '--poll-interval', '0.05'];
  const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], { env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => void child.kill('SIGKILL'));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const lines: Record<string, unknown>[] = [];
  const seen = (msg: string) => lines.some((l) => typeof l.msg === 'string' && l.msg.startsWith(msg));
  let notify = () => {};
  createInterface({ input: child.stdout }).on('line', (text) => {
    lines.push(JSON.parse(text) as Record<string, unknown>);
    notify();
  });
  const untilLine = (msg: string) =>
    new Promise<void>((resolve, reject) => {
      const check = () => (seen(msg) ? resolve() : undefined);
      notify = check;
      check();
      void exited.then((code) => reject(new Error(`exited ${code} before "${msg}"`)));
    });
  await untilLine('ingest started');
  await pollUntil('the first cursor file', () => existsSync(join(stateDir, 'cursors.json')));
  await rename(stateDir, `${stateDir}.moved`);
  await writeFile(stateDir, 'not a directory\n');
  fake.append(5);
  await untilLine('cursor file flush failed');
  child.kill('SIGTERM');
  assert.equal(await exited, 1, 'a stop that could not save the cursors is a failed stop');
  assert.ok(seen('shutdown failed'), 'and it says why');
});
