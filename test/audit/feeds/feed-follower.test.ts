import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { WebSocketServer, type WebSocket } from 'ws';
import { FeedFollower } from '../../../src/audit/feeds/feed-follower.js';
import { certificateUpdate } from '../support/fake-feed.js';
import { EventWaiter } from '../support/event-waiter.js';

async function server(options: { autoPong?: boolean } = {}): Promise<{ wss: WebSocketServer; url: string }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, ...options });
  await once(wss, 'listening');
  return { wss, url: `ws://127.0.0.1:${(wss.address() as { port: number }).port}/` };
}

async function closeServer(wss: WebSocketServer): Promise<void> {
  for (const c of wss.clients) c.terminate();
  await new Promise<void>((r) => wss.close(() => r()));
}

test('frames become entry, heartbeat and other events; a server close is a disconnect, then it reconnects', async () => {
  const { wss, url } = await server();
  const w = new EventWaiter();
  const f = new FeedFollower({ url, onEvent: (e) => w.push('f', e), backoffBaseMs: 10, backoffMaxMs: 20 });
  try {
    const first = once(wss, 'connection') as Promise<[WebSocket]>;
    f.start();
    const [ws] = await first;
    await w.untilCount('f', 'connect', 1);
    ws.send(certificateUpdate('https://ct.example.net/log/', 5));
    ws.send('{"message_type":"heartbeat","timestamp":1}');
    ws.send(Buffer.from([1, 2, 3]), { binary: true });
    await w.untilCount('f', 'other', 1);
    assert.deepEqual(
      w.events.f.map((e) => (e.ev === 'entry' ? `${e.ev} ${e.log} ${e.index}` : e.ev)),
      ['connect', 'entry ct.example.net/log 5', 'heartbeat', 'other'],
    );
    ws.close(1012, 'service restart');
    await w.untilCount('f', 'connect', 2);
    const d = w.events.f.find((e) => e.ev === 'disconnect');
    assert.deepEqual(d && { ...d, t: 0 }, { ev: 'disconnect', t: 0, code: 1012, reason: 'service restart' });
    assert.equal(f.up, true);
  } finally {
    await f.stop();
    await closeServer(wss);
  }
  assert.equal(w.count('f', 'disconnect'), 1, 'our own stop is not a disconnect of the feed');
});

test('a peer that answers no ping is terminated and counted as a disconnect', async () => {
  const { wss, url } = await server({ autoPong: false });
  const w = new EventWaiter();
  const f = new FeedFollower({ url, onEvent: (e) => w.push('f', e), pingIntervalMs: 30, backoffBaseMs: 10_000 });
  try {
    f.start();
    await w.untilCount('f', 'disconnect', 1);
    const d = w.events.f.find((e) => e.ev === 'disconnect');
    assert.equal(d?.ev === 'disconnect' && d.code, 1006);
    assert.match(d?.ev === 'disconnect' ? (d.reason ?? '') : '', /nothing received for 0\.06 s \(dead or black-holed connection\)/);
  } finally {
    await f.stop();
    await closeServer(wss);
  }
});

test('a refused connection is an attempt failure, not a disconnect', async () => {
  const { wss, url } = await server();
  await closeServer(wss);
  const w = new EventWaiter();
  const failures: string[] = [];
  let resolve: () => void = () => {};
  const failed = new Promise<void>((r) => (resolve = r));
  const f = new FeedFollower({
    url,
    onEvent: (e) => w.push('f', e),
    onAttemptFailed: (err) => {
      failures.push(err);
      if (failures.length === 2) resolve();
    },
    backoffBaseMs: 5,
    backoffMaxMs: 10,
  });
  f.start();
  await failed;
  await f.stop();
  assert.match(failures[0], /ECONNREFUSED/);
  assert.equal(f.everConnected, false);
  assert.equal(w.events.f, undefined, 'no event at all');
});
