/**
 * Issue 10 item 9: connections that never send a byte are closed within a bound, the number of open
 * connections is capped and visible. Real raw TCP sockets against the real server.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as netConnect, type Socket } from 'node:net';
import { WebSocket } from 'ws';
import { effectiveMaxConnections, FD_RESERVE, openFileLimit } from '../../src/http/connection-guard.js';
import { createServerMetrics } from '../../src/metrics/server-metrics.js';
import { startServer, type ServerHandle } from '../../src/server.js';
import { silentLogger } from '../../src/log/logger.js';
import { metricValue } from '../stream/hub-harness.js';
import { pollUntil, startFake, tempDir, testConfig } from './server-harness.js';

async function start(t: { after(fn: () => Promise<void>): void }, maxConnections: number, firstRequestTimeoutMs: number) {
  const fake = await startFake(t);
  const dir = await tempDir(t);
  const metrics = createServerMetrics({ processMetrics: false });
  const server = await startServer(testConfig(fake, dir, { maxConnections }), {
    logger: silentLogger,
    metrics,
    env: {},
    ingest: { partialTileDelayMs: 0, cursorFlushMs: 50 },
    connections: { firstRequestTimeoutMs },
  });
  t.after(() => server.close());
  const metric = (name: string, labels: Record<string, string> = {}) => metricValue(metrics, name, labels);
  return { server, metric };
}

/** A raw socket that connects and then says nothing; `closed` resolves when the server ends it. */
async function silent(server: ServerHandle): Promise<{ socket: Socket; closed: Promise<void> }> {
  const socket = netConnect(server.port, '127.0.0.1');
  socket.on('error', () => undefined); // ECONNRESET when the server destroys it
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    void closed.then(() => reject(new Error('closed before connect')));
  });
  return { socket, closed };
}

/** Rejects when `p` has not settled within `ms`: a broken bound fails the test instead of hanging it. */
function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not within ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

test('connections that send nothing are closed after the first-request bound; clients that spoke stay', { timeout: 60_000 }, async (t) => {
  const { server, metric } = await start(t, 4096, 400);
  const ws = new WebSocket(`${server.url.replace('http:', 'ws:')}/`);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  t.after(() => ws.close());
  const idle = await Promise.all(Array.from({ length: 50 }, () => silent(server)));
  await pollUntil('51 open connections', async () => (await metric('certstream_open_connections')) === 51);
  // Node's own bound would take ~90 s (60 s headersTimeout, checked every 30 s).
  await within(10_000, 'silent sockets closed by the server', Promise.all(idle.map((s) => s.closed)));
  assert.equal(await metric('certstream_connections_rejected_total', { reason: 'timeout' }), 50);
  await pollUntil('only the WebSocket client left', async () => (await metric('certstream_open_connections')) === 1);
  assert.equal(ws.readyState, ws.OPEN, 'an upgraded connection is not subject to the first-request bound');
  // A keep-alive HTTP client that made a request in time is not cut by it either.
  const r = await fetch(`${server.url}/healthz`);
  assert.equal(r.status, 200);
});

test('beyond --max-connections new sockets are closed at once and counted; the server answers again once some go', { timeout: 60_000 }, async (t) => {
  const { server, metric } = await start(t, 20, 30_000);
  assert.equal(await metric('certstream_max_connections'), 20);
  const held = await Promise.all(Array.from({ length: 20 }, () => silent(server)));
  await pollUntil('20 open connections', async () => (await metric('certstream_open_connections')) === 20);
  const extra = netConnect(server.port, '127.0.0.1');
  extra.on('error', () => undefined);
  await within(10_000, 'the 21st socket closed by the server', new Promise<void>((resolve) => extra.once('close', () => resolve())));
  assert.equal(await metric('certstream_connections_rejected_total', { reason: 'limit' }), 1);
  assert.equal(await metric('certstream_open_connections'), 20);
  for (const h of held.slice(0, 5)) h.socket.destroy();
  await pollUntil('15 open connections', async () => (await metric('certstream_open_connections')) === 15);
  const r = await fetch(`${server.url}/healthz`);
  assert.equal(r.status, 200);
  for (const h of held) h.socket.destroy();
});

test('the cap leaves file descriptors for the followers', () => {
  const limits = 'Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 524288               files\n';
  assert.equal(openFileLimit(limits), 1024);
  assert.equal(openFileLimit('Max open files            unlimited            unlimited            files\n'), undefined);
  assert.equal(effectiveMaxConnections(4096, 1024), 1024 - FD_RESERVE);
  assert.equal(effectiveMaxConnections(100, 1024), 100);
  assert.equal(effectiveMaxConnections(4096, undefined), 4096);
  assert.equal(effectiveMaxConnections(4096, 64), 1);
});
