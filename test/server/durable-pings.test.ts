// Issue 18: durable clients had no ping-flood guard, and any pong — even one the server never asked for —
// confirmed a durable client's position, so a client could have frames it never read counted as read.
// Only the answer to the server's own ping (a pong carrying that ping's payload) confirms; a durable
// client's own pings are answered with the plain clients' flood limit. The real server, the fake CT log,
// real ws clients and a raw TCP client.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect as netConnect } from 'node:net';
import { WebSocket } from 'ws';
import { createServerMetrics } from '../../src/metrics/server-metrics.js';
import { metricValue } from '../stream/hub-harness.js';
import { waitUntil } from '../support/wait-until.js';
import { nextIndexes, startFake, startReal, tempDir, testConfig, whenFake } from './server-harness.js';

const ENTRIES = 50;

/** A durable client that answers nothing by itself (autoPong off) and records the cert_index of every frame. */
function durable(port: number, query: string): { ws: WebSocket; indexes: number[] } {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/full-stream?${query}`, { autoPong: false });
  const indexes: number[] = [];
  ws.on('message', (data) => {
    const m = JSON.parse(data.toString()) as { data: { cert_index?: number } };
    if (m.data.cert_index !== undefined) indexes.push(m.data.cert_index);
  });
  return { ws, indexes };
}

/**
 * Waits for the server's first ping to `ws` (every frame written before it has been read by then), lets
 * `answer` reply to it, and returns once the server has handled that reply: it answers our own ping,
 * sent right after, only then.
 */
async function onFirstPing(ws: WebSocket, answer: (payload: Buffer) => void): Promise<void> {
  const [payload] = (await once(ws, 'ping')) as [Buffer];
  answer(payload);
  const synced = new Promise<void>((resolve) => ws.on('pong', (data: Buffer) => data.toString() === 'sync' && resolve()));
  ws.ping('sync');
  await synced;
}

test('only the pong that answers the server\'s own ping confirms a durable position; an unsolicited one confirms nothing', { timeout: 60_000 }, async (t) => {
  const fake = await startFake(t, { rfc6962Logs: 1, staticLogs: 0, initialSize: ENTRIES });
  const log = fake.logs[0].url;
  const server = await startReal(testConfig(fake, await tempDir(t), { durablePingIntervalMs: 50, backfill: ENTRIES }));
  t.after(() => server.close());
  await whenFake(fake, () => nextIndexes(server).get(log) === ENTRIES);

  // `hostile` reads the replay, then sends a pong of its own instead of the answer; `honest` answers.
  const hostile = durable(server.port, 'id=hostile&since=0');
  const honest = durable(server.port, 'id=honest&since=0');
  t.after(() => {
    hostile.ws.terminate();
    honest.ws.terminate();
  });
  await Promise.all([
    onFirstPing(hostile.ws, () => hostile.ws.pong('unsolicited')),
    onFirstPing(honest.ws, (payload) => honest.ws.pong(payload)),
  ]);
  assert.equal(hostile.indexes.length, ENTRIES, 'the replay was written before the ping');
  assert.equal(honest.indexes.length, ENTRIES);

  // Each NAME taken over by a new connection, which starts at the confirmed position; then one live entry.
  const again = { hostile: durable(server.port, 'id=hostile'), honest: durable(server.port, 'id=honest') };
  t.after(() => {
    again.hostile.ws.terminate();
    again.honest.ws.terminate();
  });
  await Promise.all([once(again.hostile.ws, 'open'), once(again.honest.ws, 'open')]);
  fake.append(1, log);
  await waitUntil('the live entry on both new connections', 20_000, () => again.hostile.indexes.includes(ENTRIES) && again.honest.indexes.includes(ENTRIES));
  assert.deepEqual(again.hostile.indexes, Array.from({ length: ENTRIES + 1 }, (_, i) => i), 'nothing was confirmed: everything again from the start');
  assert.deepEqual(again.honest.indexes, [ENTRIES], 'the answered ping confirmed the whole replay');
});

test('a ping flood from a durable client that does not read is terminated and counted as protocol', { timeout: 120_000 }, async (t) => {
  const fake = await startFake(t, { rfc6962Logs: 1, staticLogs: 0, initialSize: ENTRIES });
  const log = fake.logs[0].url;
  const metrics = createServerMetrics({ processMetrics: false });
  const server = await startReal(testConfig(fake, await tempDir(t), { durablePingIntervalMs: 50, backfill: ENTRIES }), metrics);
  t.after(() => server.close());
  await whenFake(fake, () => nextIndexes(server).get(log) === ENTRIES);
  const bystander = new WebSocket(`ws://127.0.0.1:${server.port}/full-stream?id=bystander`);
  t.after(() => bystander.terminate());
  await once(bystander, 'open');

  const socket = netConnect(server.port, '127.0.0.1');
  t.after(() => socket.destroy());
  socket.on('error', () => undefined); // EPIPE once the server is gone
  await once(socket, 'connect');
  socket.write(`GET /full-stream?id=flood&since=0 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  const [head] = (await once(socket, 'data')) as [Buffer];
  assert.match(head.toString('latin1'), /^HTTP\/1\.1 101 /);
  socket.pause(); // never read a pong
  const gone = once(server.hub, 'disconnect');
  let stop = false;
  void gone.then(() => (stop = true));
  const ended = new Promise((resolve) => socket.once('close', resolve));
  // Masked pings with the largest payload a control frame may carry (125 bytes), so that the socket
  // buffers of the loopback connection fill with pongs soon; bounded, so that a server that answers
  // every ping forever fails the test instead of hanging it.
  const ping = Buffer.concat([Buffer.from([0x89, 0x80 | 125, 1, 2, 3, 4]), Buffer.alloc(125, 0x61)]);
  const burst = Buffer.concat(Array.from({ length: 2000 }, () => ping));
  let written = 0;
  while (!stop && socket.writable && written < 64 * 1024 * 1024) {
    written += burst.length;
    if (!socket.write(burst)) await Promise.race([new Promise((resolve) => socket.once('drain', resolve)), gone, ended]);
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.ok(stop, `still served after ${written} bytes of pings it never read the answers to`);
  assert.deepEqual(await gone, ['full', 'protocol']);
  assert.equal(await metricValue(metrics, 'certstream_client_disconnects_total', { reason: 'protocol' }), 1);
  assert.equal(bystander.readyState, WebSocket.OPEN, 'the other durable client is untouched');
});
