/**
 * The stop runs one stack of closers to the end: a positions file that cannot be written no longer
 * skips the window's close or the listener's, and the stop rejects (STATE_ERR_IO) instead of looking
 * clean (it used to share one `try` with the window and NATS, log it, and resolve).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { isCertstreamError } from '../../src/errors.js';
import { createLogger, silentLogger } from '../../src/log/logger.js';
import { createServerMetrics } from '../../src/metrics/server-metrics.js';
import { startServer } from '../../src/server.js';
import { CloserStack } from '../../src/server/closer-stack.js';
import { polledAll, pollUntil, startFake, tempDir, testConfig, whenFake } from './server-harness.js';

test('the closer stack runs every closer, the last pushed first, and returns the failures', async () => {
  const ran: string[] = [];
  const closers = new CloserStack(silentLogger);
  closers.push('a', () => void ran.push('a'));
  closers.push('b', async () => {
    ran.push('b');
    throw new Error('b broke');
  });
  closers.push('c', async () => void ran.push('c'));
  const failures = await closers.closeAll();
  assert.deepEqual(ran, ['c', 'b', 'a']);
  assert.deepEqual(failures.map((f) => [f.what, (f.error as Error).message]), [['b', 'b broke']]);
  assert.deepEqual(await closers.closeAll(), [], 'each closer runs once');
  assert.deepEqual(ran, ['c', 'b', 'a']);
});

test('a positions file that cannot be written fails the stop, and everything is still closed', { timeout: 60_000 }, async (t) => {
  const fake = await startFake(t);
  const stateDir = join(await tempDir(t), 'state');
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) });
  const server = await startServer(testConfig(fake, stateDir, { durablePingIntervalMs: 50 }), {
    logger, metrics: createServerMetrics({ processMetrics: false }), env: {}, ingest: { partialTileDelayMs: 0, cursorFlushMs: 20 },
  });
  t.after(() => server.close().catch(() => undefined));
  await whenFake(fake, () => polledAll(server));
  const ws = new WebSocket(`${server.url.replace('http', 'ws')}/full-stream?id=keeper`);
  t.after(() => ws.terminate());
  const file = join(stateDir, 'durable-positions.journal');
  await pollUntil('the position saved once', async () => (await stat(file).catch(() => undefined)) !== undefined);
  // The journal becomes a non-empty directory: appending to it fails, for root too.
  await rm(file);
  await mkdir(file);
  await writeFile(join(file, 'blocker'), 'x');
  fake.append(5); // new frames, a new confirmation: the positions have something to write
  await pollUntil('a failed positions flush', () => lines.some((l) => l.msg === 'positions file flush failed'));
  ws.terminate();

  await assert.rejects(server.close(), (err) => isCertstreamError(err, 'STATE_ERR_IO'), 'positions not saved: the stop must not look clean');
  const msgs = lines.map((l) => l.msg);
  assert.ok(msgs.includes('positions file close failed'), 'the failure is logged by what failed');
  assert.ok(!msgs.includes('stopped'), 'no "stopped" line for a failed stop');
  assert.equal(server.hub.clientCount, 0, 'clients closed');
  await assert.rejects(fetch(`${server.url}/healthz`), 'the listener is closed after the failure');
});
