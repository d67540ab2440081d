// --clients-memory-bytes (issue 18): which clients go when all together hold too much (pure), and the hub
// closing them on the wire with 1008, counted as slow, with real ws clients that stop reading.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { WebSocket } from 'ws';
import { overMemoryLimit } from '../../src/stream/clients-memory.js';
import { waitUntil } from '../support/wait-until.js';
import { frames, metricValue, startHub } from './hub-harness.js';

test('overMemoryLimit: the largest holders first, as few as it takes, none when under', () => {
  const h = (queued: number, name: string) => ({ queued, name });
  const holders = [h(100, 'a'), h(500, 'b'), h(300, 'c'), h(50, 'd')];
  assert.deepEqual(overMemoryLimit(holders, 950), []);
  assert.deepEqual(overMemoryLimit(holders, 949).map((x) => x.name), ['b']);
  assert.deepEqual(overMemoryLimit(holders, 450).map((x) => x.name), ['b']);
  assert.deepEqual(overMemoryLimit(holders, 449).map((x) => x.name), ['b', 'c']);
  assert.deepEqual(overMemoryLimit(holders, 149).map((x) => x.name), ['b', 'c', 'a']);
  assert.deepEqual(overMemoryLimit(holders, 0).map((x) => x.name), ['b', 'c', 'a', 'd']);
  assert.deepEqual(holders.map((x) => x.name), ['a', 'b', 'c', 'd'], 'not reordered');
});

test('over the limit the clients holding the most are closed with 1008 and counted as slow; the others stay', { timeout: 60_000 }, async (t) => {
  const MiB = 1024 * 1024;
  // Grace long enough for the paused clients to be resumed and read their close frame.
  const h = await startHub({ clientBufferBytes: MiB, clientsMemoryBytes: 2 * MiB, closeGraceMs: 30_000, slowClientTimeoutMs: 60_000 });
  t.after(() => h.close());
  const clients: { ws: WebSocket; socket?: Socket; code?: number }[] = [];
  for (let i = 0; i < 4; i++) {
    const c: (typeof clients)[number] = { ws: new WebSocket(`${h.url}/full-stream`) };
    c.ws.on('upgrade', (res) => {
      c.socket = res.socket as Socket;
      c.socket.pause();
    });
    c.ws.on('close', (code) => (c.code = code));
    c.ws.on('error', () => undefined);
    await new Promise((resolve) => c.ws.once('open', resolve));
    clients.push(c);
  }
  t.after(() => clients.forEach((c) => c.ws.terminate()));
  // 64 MB of frames, far more than the loopback sockets take: every client reaches its 1 MiB budget,
  // 4 MiB together, twice the limit.
  for (let i = 0; i < 64; i++) {
    h.hub.publish(frames('https://log.example/', i * 100, 100, 10_000));
    await new Promise((resolve) => setImmediate(resolve));
  }
  for (const c of clients) c.socket!.resume();
  const slow = () => metricValue(h.metrics, 'certstream_client_disconnects_total', { reason: 'slow' });
  await waitUntil('the closed clients to read their close frame', 30_000, async () => {
    const n = await slow();
    return n >= 2 && clients.filter((c) => c.code !== undefined).length === n;
  });
  const closed = clients.filter((c) => c.code !== undefined);
  assert.deepEqual(closed.map((c) => c.code), closed.map(() => 1008));
  assert.ok(closed.length <= 3, `${closed.length} closed: as few as it takes`);
  assert.ok(clients.some((c) => c.ws.readyState === WebSocket.OPEN), 'the others stay');
});
