// Durable (`?id=`) and `since` clients of the real hub with a real replay window on disk and real ws
// clients on 127.0.0.1: resume after a cut with no gap and no reordering while entries keep being
// published, takeover, since, a slow durable client that is never dropped, byte-identical frames,
// truncation counted, bad parameters refused with 400 before the upgrade.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { createServerMetrics } from '../../src/metrics/server-metrics.js';
import { LocalReplayWindow } from '../../src/replay/local-replay-window.js';
import { PositionStore } from '../../src/stream/durable-positions.js';
import type { StreamFrames } from '../../src/stream/fanout-hub.js';
import { recordFrames } from '../support/stream-probe.js';
import { waitUntil } from '../support/wait-until.js';
import { closed, connect, frames, metricValue, startHub, type Harness } from './hub-harness.js';

const LOG = 'https://log.example/';
const BASE = Math.floor(Date.now() / 1000) - 1000;

interface Durable {
  h: Harness;
  window: LocalReplayWindow;
  positions: PositionStore;
  /** Publishes entries [from, from+count) of LOG with their identity (as the sink does). */
  publish(from: number, count: number, padding?: number): void;
}

async function startDurable(t: { after(fn: () => Promise<void> | void): void }, over: { budget?: number; cacheBytes?: number; maxBytes?: number } = {}): Promise<Durable> {
  const dir = mkdtempSync(join(tmpdir(), 'durable-'));
  const window = LocalReplayWindow.open({ stateDir: dir, windowSeconds: 3600, maxBytes: over.maxBytes ?? 1e9, cacheBytes: over.cacheBytes, segmentBytes: 256 * 1024 });
  const positions = await PositionStore.open({ stateDir: dir, beforeWrite: () => window.sync() });
  const h = await startHub({
    metrics: createServerMetrics({ processMetrics: false }),
    clientBufferBytes: over.budget ?? 1 << 20,
    durable: { window, positions, pingIntervalMs: 20, pongTimeoutMs: 2000 },
  });
  t.after(async () => {
    await h.close();
    await positions.close();
    await window.close();
    rmSync(dir, { recursive: true, force: true });
  });
  // Recent times: the window trims by age against the real clock.
  const seen = BASE;
  return {
    h,
    window,
    positions,
    publish(from, count, padding = 0) {
      h.hub.publish(frames(LOG, from, count, padding).map((f): StreamFrames => ({ ...f, log: LOG, index: Number(/"cert_index":(\d+)/.exec(f.lite)![1]), seen: seen + from })));
    },
  };
}

interface Recorded {
  ws: WebSocket;
  raw: string[];
  indexes(): number[];
}

/** A recording client (stream-probe.ts) and the cert_index of each frame it received. */
async function record(url: string): Promise<Recorded> {
  const r = await recordFrames(url);
  return { ...r, indexes: () => r.raw.map((m) => JSON.parse(m) as { data: { cert_index?: number } }).filter((m) => m.data.cert_index !== undefined).map((m) => m.data.cert_index!) };
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

test('a durable client resumes after a cut: everything after its confirmed position, in order, while publishing goes on', async (t) => {
  const d = await startDurable(t, { cacheBytes: 64 * 1024, budget: 32 * 1024 });
  d.publish(0, 100);
  const r1 = await record(`${d.h.url}/?id=alpha`);
  const ws1 = r1.ws;
  d.publish(100, 500);
  await waitUntil('500 live frames', 5000, () => r1.indexes().length === 500);
  assert.deepEqual(r1.indexes(), range(100, 600), 'an unknown NAME starts live');
  await waitUntil('position confirmed', 5000, () => d.positions.get('alpha', 'lite') === 600);
  ws1.terminate();
  await waitUntil('client gone', 5000, () => d.h.hub.clientCount === 0);
  // Missed while away: 3,000 entries, most of them out of the memory cache (read back from disk).
  for (let i = 600; i < 3600; i += 100) d.publish(i, 100, 200);
  const r2 = await record(`${d.h.url}/?id=alpha`);
  const ws2 = r2.ws;
  // Publishing continues while the replay runs: the hand-over to live must have no gap and no reordering.
  let next = 3600;
  const publisher = setInterval(() => {
    d.publish(next, 50, 200);
    next += 50;
  }, 2);
  await waitUntil('replay under way', 5000, () => r2.raw.length > 100);
  await waitUntil('5,000 entries published', 10_000, () => next >= 5000);
  clearInterval(publisher);
  const end = next;
  await waitUntil('every entry', 10_000, () => r2.indexes().length >= end - 600);
  assert.deepEqual(r2.indexes(), range(600, end));
  assert.ok((await metricValue(d.h.metrics, 'certstream_replayed_messages_total', { stream: 'lite' })) >= 3000);
  ws2.close();
});

test('frames are byte-identical for plain, durable and since clients on all three streams', async (t) => {
  const d = await startDurable(t);
  const paths = { lite: '/', full: '/full-stream', domains: '/domains-only' } as const;
  for (const path of Object.values(paths)) {
    const plain = await record(`${d.h.url}${path}`);
    const durable = await record(`${d.h.url}${path}?id=same`);
    const since = await record(`${d.h.url}${path}?since=0`);
    const base = path === '/' ? 0 : path === '/full-stream' ? 1000 : 2000;
    d.publish(base, 50);
    await waitUntil('all three', 5000, () => plain.raw.length === 50 && durable.raw.length === 50 && since.raw.length >= 50);
    assert.deepEqual(durable.raw, plain.raw, path);
    assert.deepEqual(since.raw.slice(-50), plain.raw, path);
  }
});

test('since replays from a time; a second connection with the same id takes over (1008)', async (t) => {
  const d = await startDurable(t);
  d.publish(0, 10); // seen = BASE + 0
  d.publish(10, 10); // seen = BASE + 10
  d.publish(20, 10); // seen = BASE + 20
  const s = await record(`${d.h.url}/full-stream?since=${BASE + 10}`);
  await waitUntil('20 frames', 5000, () => s.raw.length === 20);
  assert.deepEqual(s.indexes(), range(10, 30));

  const first = await connect(`${d.h.url}/?id=taken`);
  const firstClosed = closed(first);
  const second = await record(`${d.h.url}/?id=taken`);
  assert.equal((await firstClosed).code, 1008);
  d.publish(30, 5);
  await waitUntil('the newer connection streams', 5000, () => second.raw.length === 5);
});

test('a slow durable client is never dropped: it reads everything at its own pace', async (t) => {
  const d = await startDurable(t, { budget: 64 * 1024, cacheBytes: 256 * 1024 });
  const r = await record(`${d.h.url}/full-stream?id=slow`);
  const ws = r.ws;
  // The client stops reading while 4 MB are published (64 times its budget).
  (ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
  for (let i = 0; i < 4000; i += 100) d.publish(i, 100, 1000);
  await waitUntil('lag visible', 5000, async () => (await metricValue(d.h.metrics, 'certstream_durable_lag_messages', { stream: 'full' })) > 1000);
  (ws as unknown as { _socket: { resume(): void } })._socket.resume();
  await waitUntil('all 4,000', 20_000, () => r.raw.length === 4000);
  assert.deepEqual(r.indexes(), range(0, 4000));
  // What being durable means once it caught up: still connected (no disconnect counted, whatever the
  // reason), nothing left behind, and its position confirmed at the head, so a reconnect would resume
  // there. (A durable client never goes through the dropping path, so certstream_client_dropped_messages_total
  // says nothing about it.)
  assert.equal(ws.readyState, WebSocket.OPEN);
  assert.equal(d.h.hub.clientCount, 1);
  assert.deepEqual((await d.h.metrics.clientDisconnects.get()).values.filter((v) => v.value > 0), [], 'no client disconnected');
  assert.equal(await metricValue(d.h.metrics, 'certstream_durable_lag_messages', { stream: 'full' }), 0);
  await waitUntil('position confirmed at the head', 5000, () => d.positions.get('slow', 'full') === 4000);
});

test('a position older than the window resumes at its start and counts what is lost', async (t) => {
  const d = await startDurable(t, { maxBytes: 2 * 1024 * 1024 });
  const ws = await connect(`${d.h.url}/domains-only?id=old`);
  await waitUntil('position known', 5000, () => d.positions.get('old', 'domains') === 0);
  ws.terminate();
  await waitUntil('client gone', 5000, () => d.h.hub.clientCount === 0);
  for (let i = 0; i < 5000; i += 100) d.publish(i, 100, 1000);
  assert.ok(d.window.firstSeq > 0, 'the oldest entries were trimmed');
  const first = d.window.firstSeq;
  const r = await record(`${d.h.url}/domains-only?id=old`);
  await waitUntil('the rest of the window', 5000, () => r.raw.length === 5000 - first);
  assert.equal(await metricValue(d.h.metrics, 'certstream_resume_truncated_messages_total', { stream: 'domains' }), first);
});

test('bad id or since: HTTP 400 with one line, before any upgrade', async (t) => {
  const d = await startDurable(t);
  const port = new URL(d.h.url).port;
  for (const [query, expect] of [
    ['id=', /bad id/],
    ['id=a%20b', /bad id/],
    [`id=${'x'.repeat(65)}`, /bad id/],
    ['since=yesterday', /bad since/],
    ['since=-5', /bad since/],
    ['id=a&id=b', /more than once/],
  ] as const) {
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request({ port, host: '127.0.0.1', path: `/?${query}`, headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' } });
      req.on('response', (r) => {
        let body = '';
        r.on('data', (c) => (body += c));
        r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
      });
      req.on('upgrade', () => reject(new Error(`upgraded for ${query}`)));
      req.on('error', reject);
      req.end();
    });
    assert.equal(res.status, 400, query);
    assert.match(res.body, expect);
    assert.equal(res.body.trimEnd().split('\n').length, 1);
  }
});

test("durable: 'later' (the moment between bind and the window's opening): id and since get 503, then work once attached", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'durable-later-'));
  const h = await startHub({ metrics: createServerMetrics({ processMetrics: false }), durable: 'later' });
  const opened: { window?: LocalReplayWindow; positions?: PositionStore } = {};
  t.after(async () => {
    await h.close();
    await opened.positions?.close();
    await opened.window?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  for (const query of ['id=alice', `since=${BASE}`]) {
    const res = await new Promise<{ status: number; retryAfter: string | undefined }>((resolve, reject) => {
      const req = request({ port: new URL(h.url).port, host: '127.0.0.1', path: `/?${query}`, headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' } });
      req.on('response', (r) => (r.resume(), resolve({ status: r.statusCode ?? 0, retryAfter: r.headers['retry-after'] })));
      req.on('upgrade', () => reject(new Error(`upgraded for ${query}`)));
      req.on('error', reject);
      req.end();
    });
    assert.deepEqual(res, { status: 503, retryAfter: '1' }, query);
  }
  // A plain client is served meanwhile.
  const plain = await record(`${h.url}/`);
  const window = (opened.window = LocalReplayWindow.open({ stateDir: dir, windowSeconds: 3600, maxBytes: 1e9 }));
  const positions = (opened.positions = await PositionStore.open({ stateDir: dir, beforeWrite: () => window.sync() }));
  h.hub.attachDurable({ window, positions, pingIntervalMs: 20, pongTimeoutMs: 2000 });
  const durable = await record(`${h.url}/?id=alice`);
  h.hub.publish(frames(LOG, 0, 5).map((f, i): StreamFrames => ({ ...f, log: LOG, index: i, seen: BASE })));
  await waitUntil('both clients have the 5 entries', 5000, () => durable.indexes().length === 5 && plain.indexes().length === 5);
  assert.deepEqual(durable.indexes(), range(0, 5));
  assert.equal(window.nextSeq, 5, 'published entries go to the attached window');
  durable.ws.close();
  plain.ws.close();
});

test('entries refetched after a kill -9: plain clients get them as before, durable clients never twice', async (t) => {
  const d = await startDurable(t);
  const plain = await record(`${d.h.url}/`);
  const durable = await record(`${d.h.url}/?id=once`);
  d.publish(0, 100);
  await waitUntil('100 each', 5000, () => plain.raw.length === 100 && durable.raw.length === 100);
  d.publish(60, 90); // 60..99 again, then 100..149
  d.publish(150, 10);
  await waitUntil('the rest', 5000, () => plain.raw.length === 200 && durable.raw.length === 160);
  assert.deepEqual(plain.indexes(), [...range(0, 100), ...range(60, 160)]);
  assert.deepEqual(durable.indexes(), range(0, 160));
  assert.equal(d.window.nextSeq, 160, 'the window holds each index once');
});

test('closing the hub first delivers everything published to clients that are reading (bounded)', async (t) => {
  const d = await startDurable(t, { budget: 64 * 1024, cacheBytes: 128 * 1024 });
  const durable = await record(`${d.h.url}/full-stream?id=shutdown`);
  const socket = (durable.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
  socket.pause();
  for (let i = 0; i < 2000; i += 100) d.publish(i, 100, 500);
  await waitUntil('the durable client is behind', 5000, async () => (await metricValue(d.h.metrics, 'certstream_durable_lag_messages', { stream: 'full' })) > 500);
  const gone = closed(durable.ws);
  // The client reads again only once the close has begun (close() marks the hub closed synchronously),
  // so everything below is delivered during the close. The grace is a liveness bound, far above the
  // fraction of a second this takes: it only fails a close that stops waiting for a reading client.
  const closing = d.h.hub.close(1001, 'server shutting down', 60_000);
  socket.resume();
  await closing;
  assert.equal((await gone).code, 1001);
  assert.deepEqual(durable.indexes(), range(0, 2000), 'the durable client got the whole window before the close');
});

test('closing the hub does not wait past its grace for a client that does not read', async (t) => {
  const d = await startDurable(t, { budget: 64 * 1024, cacheBytes: 128 * 1024 });
  const stuck = await record(`${d.h.url}/full-stream?id=stuck`);
  (stuck.ws as unknown as { _socket: { pause(): void } })._socket.pause();
  // 24 MB: more than the loopback socket buffers of both ends take, so frames stay unsent.
  for (let i = 0; i < 12_000; i += 100) d.publish(i, 100, 2000);
  await waitUntil('the durable client is behind', 5000, async () => (await metricValue(d.h.metrics, 'certstream_durable_lag_messages', { stream: 'full' })) > 500);
  // The client never reads again: the close must end on its own, with the client terminated. It takes
  // about twice the 200 ms grace; 30 s is a liveness bound that only fails a close that waits without end.
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    d.h.hub.close(1001, 'server shutting down', 200).then(() => 'closed'),
    new Promise((resolve) => (timer = setTimeout(resolve, 30_000, 'still closing after 30 s'))),
  ]);
  clearTimeout(timer);
  if (outcome !== 'closed') stuck.ws.terminate(); // lets the rest of the test's teardown end
  assert.equal(outcome, 'closed', 'the close waited past its grace for a client that does not read');
  assert.equal(d.h.hub.clientCount, 0, 'the client that did not read is gone');
  assert.equal(stuck.raw.length, 0);
});
