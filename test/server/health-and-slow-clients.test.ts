import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { WebSocket } from 'ws';
import { createServerMetrics } from '../../src/metrics/server-metrics.js';
import { metricValue } from '../stream/hub-harness.js';
import { polledAll, startFake, startReal, tempDir, testConfig, whenFake } from './server-harness.js';

test('/healthz against the real server: ok, degraded when one log lags, down (503) when all do', { timeout: 60_000 }, async (t) => {
  const fake = await startFake(t);
  const dir = await tempDir(t);
  const server = await startReal(testConfig(fake, dir, { maxLag: 10 }));
  t.after(() => server.close());
  await whenFake(fake, () => polledAll(server) && server.health().status === 'ok');
  let r = await fetch(`${server.url}/healthz`);
  assert.equal(r.status, 200);
  const ok = (await r.json()) as { status: string; logs: { url: string; kind: string }[]; uptime_seconds: number; clients: number };
  assert.equal(ok.status, 'ok');
  assert.deepEqual(ok.logs.map((l) => l.kind).sort(), ['rfc6962', 'static']);

  // A head far ahead of what the log can serve: the log lags.
  const [a, b] = fake.logs;
  fake.pinHead(a.url, fake.size(a.url) + 500);
  await whenFake(fake, () => server.health().status === 'degraded');
  r = await fetch(`${server.url}/healthz`);
  assert.equal(r.status, 200);
  const degraded = (await r.json()) as { status: string; logs: { url: string; lag: number }[] };
  assert.equal(degraded.status, 'degraded');
  assert.ok(degraded.logs.find((l) => l.url === a.url)!.lag >= 500);

  fake.pinHead(b.url, fake.size(b.url) + 500);
  await whenFake(fake, () => server.health().status === 'down');
  r = await fetch(`${server.url}/healthz`);
  assert.equal(r.status, 503);
  assert.equal(((await r.json()) as { status: string }).status, 'down');
});

test('a client that stops reading is dropped-and-counted then closed; a reading client beside it gets every entry', { timeout: 60_000 }, async (t) => {
  const fake = await startFake(t, { initialSize: 256 });
  const dir = await tempDir(t);
  const metrics = createServerMetrics({ processMetrics: false });
  const server = await startReal(testConfig(fake, dir, { clientBufferBytes: 8 << 20, slowClientTimeoutMs: 300 }), metrics);
  t.after(() => server.close());
  await whenFake(fake, () => polledAll(server));
  const wsBase = server.url.replace('http:', 'ws:');

  const reader = new WebSocket(`${wsBase}/full-stream`);
  const stalled = new WebSocket(`${wsBase}/full-stream`);
  await Promise.all([once(reader, 'open'), once(stalled, 'open')]);
  t.after(() => reader.close());
  (stalled as unknown as { _socket: Socket })._socket.pause();
  const slowGone = new Promise<[string, string]>((resolve) =>
    server.hub.on('disconnect', (stream, reason) => {
      if (reason === 'slow') resolve([stream, reason]);
    }),
  );

  const seen = new Map<string, number[]>();
  let count = 0;
  let wanted: { n: number; resolve: () => void } | undefined;
  reader.on('message', (data) => {
    const m = JSON.parse(data.toString()) as { data: { source: { url: string }; cert_index: number } };
    const list = seen.get(m.data.source.url) ?? [];
    list.push(m.data.cert_index);
    seen.set(m.data.source.url, list);
    count++;
    if (wanted && count >= wanted.n) wanted.resolve();
  });
  const waitCount = (n: number) => new Promise<void>((resolve) => (count >= n ? resolve() : (wanted = { n, resolve })));

  // Full tiles (256) per step; the reader paces the steps, the stalled client falls behind.
  const steps = 20;
  for (let i = 1; i <= steps; i++) {
    fake.append(256);
    await waitCount(i * 512);
    if ((await metricValue(metrics, 'certstream_client_dropped_messages_total', { stream: 'full' })) > 0 && i >= 4) break;
  }
  assert.ok((await metricValue(metrics, 'certstream_client_dropped_messages_total', { stream: 'full' })) > 0, 'drops counted');
  assert.deepEqual(await slowGone, ['full', 'slow']);
  assert.equal(await metricValue(metrics, 'certstream_client_disconnects_total', { reason: 'slow' }), 1);
  for (const [url, indexes] of seen) {
    for (let i = 1; i < indexes.length; i++) assert.equal(indexes[i], indexes[i - 1] + 1, `${url}: contiguous and increasing`);
  }
  assert.equal(reader.readyState, WebSocket.OPEN);
  assert.equal(server.health().clients, 1);
});
