/**
 * The client half of lossless delivery: a durable subscription's position is confirmed by the pong to
 * a ping, so the watcher must not pong before the frames received ahead of that ping are stored.
 * A real WebSocket server plays the certstream server: it sends frames, then a ping, and watches when
 * the pong comes.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocketServer, type WebSocket } from 'ws';
import { DurableFeed, durableUrl } from '../../src/watch/durable-feed.js';

describe('DurableFeed', () => {
  let wss: WebSocketServer;
  let url: string;
  before(async () => {
    wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(wss, 'listening');
    url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`;
  });
  after(() => new Promise<void>((resolve) => wss.close(() => resolve())));

  it('adds id= to the URL', () => {
    assert.equal(durableUrl('ws://h:4000/full-stream?x=1', 'my.watch'), 'ws://h:4000/full-stream?x=1&id=my.watch');
  });

  it('answers a ping only once every frame before it has been processed', async () => {
    const stored: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const connected = once(wss, 'connection') as Promise<[WebSocket, { url: string }]>;
    const feed = new DurableFeed({
      url, id: 'test-1', batchSize: 2,
      onFrames: async (frames) => {
        await gate; // storing is slow
        stored.push(...frames);
      },
    });
    feed.start();
    const [server, req] = await connected;
    assert.match(req.url, /[?&]id=test-1\b/);
    let pongAt: number | undefined;
    server.on('pong', () => (pongAt = stored.length));
    for (let i = 0; i < 5; i++) server.send(`frame ${i}`);
    server.ping();
    server.send('frame 5');
    // An absence can only be observed over a window: 300 ms is far beyond a loopback round trip (an
    // automatic pong, ws's default, arrives within a millisecond and fails this assertion).
    await new Promise<void>((resolve) => setTimeout(resolve, 300));
    assert.equal(pongAt, undefined, 'no pong before the frames are stored');
    release();
    await until(() => pongAt !== undefined);
    assert.ok(pongAt! >= 5, `pong after ${pongAt} stored frames`);
    await until(() => stored.length === 6);
    assert.deepEqual(stored, ['frame 0', 'frame 1', 'frame 2', 'frame 3', 'frame 4', 'frame 5']);
    await feed.stop();
  });
});

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}
