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

async function startNats(t: { after(fn: () => Promise<void>): void }): Promise<NatsServer> {
  const nats = await NatsServer.start();
  t.after(() => nats.dispose());
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
