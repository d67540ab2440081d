// --allow-from: a peer outside the ranges is refused at accept time, before any HTTP (nothing is
// answered, the socket is closed) and counted as certstream_auth_failures_total{reason="address"}.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { get } from 'node:http';
import { connect } from 'node:net';
import { createServerMetrics } from '../../src/metrics/server-metrics.js';
import { startFake, startReal, tempDir, testConfig } from './server-harness.js';

test('--allow-from refuses 127.0.0.1 when it is not in the list, and accepts it when it is', { timeout: 30_000 }, async (t) => {
  const fake = await startFake(t, { rfc6962Logs: 1, staticLogs: 0, initialSize: 1 });
  const metrics = createServerMetrics({ processMetrics: false });
  const refusing = await startReal(testConfig(fake, await tempDir(t), { allowFrom: '10.0.0.0/8,2001:db8::/32' }), metrics);
  t.after(() => refusing.close());

  // A raw TCP client sends a request and gets no byte back: the socket is closed on accept.
  const socket = connect(refusing.port, '127.0.0.1');
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
  let received = 0;
  socket.on('data', (chunk: Buffer) => (received += chunk.length));
  await once(socket, 'close');
  assert.equal(received, 0, 'no HTTP answer');
  // An HTTP client sees the connection closed before any answer. (Node 20's built-in fetch does not
  // settle here on its own; it did only while loading undici's index replaced its global dispatcher.)
  await assert.rejects(
    new Promise((resolve, reject) => get(`${refusing.url}/healthz`, { agent: false }, resolve).on('error', reject)),
    /socket hang up|ECONNRESET/,
  );
  const text = await metrics.registry.metrics();
  assert.match(text, /^certstream_auth_failures_total\{reason="address"\} 2$/m);

  const accepting = await startReal(testConfig(fake, await tempDir(t), { allowFrom: '10.0.0.0/8, 127.0.0.1/32' }));
  t.after(() => accepting.close());
  assert.equal((await fetch(`${accepting.url}/metrics`)).status, 200);
});
