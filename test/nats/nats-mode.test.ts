// The scale-out mode in process, against a real nats-server: one `all` node streams through JetStream
// exactly what it would stream alone; two ingest nodes on the same logs store each entry once; an edge
// that follows no log serves a durable client from the stream; the ingest node refuses stream requests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { range } from '../support/entry-collector.js';
import { DurableFeed } from '../support/durable-feed.js';
import { NatsServer, natsSkip } from '../support/nats-server.js';
import { waitUntil } from '../support/wait-until.js';
import { pollUntil, startFake, startReal, tempDir, testConfig } from '../server/server-harness.js';

const skip = natsSkip();

/**
 * Starts nats-server; it is disposed after everything the test registers later (node:test runs `after`
 * hooks in registration order, and servers must save their cursors while NATS is still there).
 */
async function startNats(t: { after(fn: () => Promise<void>): void }): Promise<NatsServer> {
  const nats = await NatsServer.start();
  const hooks: (() => Promise<void>)[] = [];
  const wrapped = t as { after(fn: () => Promise<void> | void): void };
  const original = wrapped.after.bind(t);
  wrapped.after = (fn) => void hooks.push(async () => fn());
  original(async () => {
    for (const fn of hooks) await fn();
    await nats.dispose();
  });
  return nats;
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(name + ' ') || line.startsWith(name + '{')) sum += Number(line.split(' ').pop());
  return sum;
}

test('role all: every entry goes through the stream to a durable client, once and in order', { skip }, async (t) => {
  const nats = await startNats(t);
  const fake = await startFake(t, { rfc6962Logs: 1, staticLogs: 1, initialSize: 200 });
  const server = await startReal(testConfig(fake, await tempDir(t), { nats: nats.url, role: 'all', backfill: 1_000_000, durablePingIntervalMs: 50 }));
  t.after(() => server.close());
  const feed = new DurableFeed(() => `ws://127.0.0.1:${server.port}/full-stream?id=reader&since=0`);
  t.after(() => feed.close());
  const hasAll = () => fake.logs.every((l) => feed.received(l.url).size === fake.size(l.url));
  await feed.until('every entry of both logs', 20_000, hasAll);
  fake.append(50);
  await feed.until('the appended entries', 20_000, hasAll);
  for (const l of fake.logs) {
    assert.deepEqual([...feed.received(l.url)].sort((a, b) => a - b), range(0, fake.size(l.url)), l.url);
    assert.equal(feed.duplicates(l.url), 0, `no repeats for ${l.url}`);
  }
  const h = server.health();
  assert.equal(h.status, 'ok');
  assert.equal(h.nats?.connected, true);
  assert.equal(h.nats?.role, 'all');
  const total = fake.logs.reduce((n, l) => n + fake.size(l.url), 0);
  await pollUntil('the stream holds every entry', () => h.nats !== undefined && server.health().nats!.last_seq === total);
  assert.equal(await metric(server.url, 'certstream_nats_published_total'), total);
});

test('two ingest nodes on the same logs store each entry once; an edge serves it; the ingest node refuses streams', { skip }, async (t) => {
  const nats = await startNats(t);
  const fake = await startFake(t, { rfc6962Logs: 1, staticLogs: 1, initialSize: 150 });
  const common = { nats: nats.url, backfill: 1_000_000, durablePingIntervalMs: 50 } as const;
  const a = await startReal(testConfig(fake, await tempDir(t), { ...common, role: 'ingest' }));
  t.after(() => a.close());
  const b = await startReal(testConfig(fake, await tempDir(t), { ...common, role: 'ingest' }));
  t.after(() => b.close());
  const edge = await startReal(testConfig(fake, await tempDir(t), { ...common, role: 'edge' }));
  t.after(() => edge.close());
  const feed = new DurableFeed(() => `ws://127.0.0.1:${edge.port}/?id=e&since=0`);
  t.after(() => feed.close());
  const hasAll = () => fake.logs.every((l) => feed.received(l.url).size === fake.size(l.url));
  await feed.until('every entry', 20_000, hasAll);
  fake.append(40);
  await feed.until('the appended entries', 20_000, hasAll);
  const total = fake.logs.reduce((n, l) => n + fake.size(l.url), 0);
  for (const l of fake.logs) assert.equal(feed.duplicates(l.url), 0, `each entry once for ${l.url}`);
  await pollUntil('the edge saw the whole stream', () => edge.health().nats?.delivered_seq === total);
  assert.equal(edge.health().nats?.last_seq, total, 'the stream holds each entry once');
  assert.equal(edge.health().status, 'ok');
  assert.deepEqual(edge.health().logs, [], 'an edge follows no log');
  // The dashboard's window and durable cards: the stream is the edge's window.
  const w = edge.health().replay_window;
  assert.ok(w !== null && w.next_seq - w.first_seq === total && w.bytes > 0, JSON.stringify(w));
  assert.equal(edge.health().durable_subscriptions, 1, 'the durable client (id=e) has its position');
  assert.equal(a.health().replay_window, null, 'an ingest node has no window');
  assert.equal(a.health().logs.length, 2);

  const refused = await new Promise<number>((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${a.port}/`);
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('open', () => reject(new Error('an ingest node accepted a stream client')));
    ws.on('error', () => undefined);
  });
  assert.equal(refused, 503);
  await waitUntil('both nodes acknowledged', 10_000, () => a.health().nats?.publish_pending === 0 && b.health().nats?.publish_pending === 0);
});

test('an edge started while NATS is down binds, keeps its clients and says degraded; once NATS is up it streams', { skip }, async (t) => {
  const nats = await startNats(t);
  await nats.stop(); // its port and store stay: the edge is pointed at a NATS that is not there yet
  const fake = await startFake(t, { rfc6962Logs: 1, staticLogs: 0, initialSize: 20 });
  const edge = await startReal(testConfig(fake, await tempDir(t), { nats: nats.url, role: 'edge' }));
  t.after(() => edge.close());
  const h = await (await fetch(`${edge.url}/healthz`)).json() as { status: string; nats: { connected: boolean; last_error: string } };
  assert.equal(h.status, 'degraded');
  assert.equal(h.nats.connected, false);
  assert.match(h.nats.last_error, /cannot reach NATS|not connected/);
  const plain = new DurableFeed(() => `ws://127.0.0.1:${edge.port}/`);
  t.after(() => plain.close());
  await waitUntil('the plain client is connected', 5000, () => plain.connected);

  await nats.start();
  await pollUntil('the edge serves from the stream', () => edge.health().status === 'ok', 30_000);
  const ingest = await startReal(testConfig(fake, await tempDir(t), { nats: nats.url, role: 'ingest', backfill: 1_000_000 }));
  t.after(() => ingest.close());
  const log = fake.logs[0].url;
  await plain.until('the log reaches the plain client', 20_000, () => plain.received(log).size === fake.size(log));
  assert.equal(plain.connections.length, 1, 'the client stayed on its one connection throughout');
});
