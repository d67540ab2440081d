// Durable subscriptions end to end: the real server follows the fake CT log, a durable client reaches it
// through a TCP proxy that cuts and stalls its connection; it misses nothing, sees each log in strictly
// increasing order within every connection, and receives frames twice only in the unconfirmed tails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { range } from '../support/entry-collector.js';
import { DurableFeed, increasingPerConnection } from '../support/durable-feed.js';
import { CuttableProxy } from '../support/tcp-proxy.js';
import { waitUntil } from '../support/wait-until.js';
import { nextIndexes, startFake, startReal, tempDir, testConfig, whenFake } from './server-harness.js';

test('a durable client misses nothing across repeated cuts and a stall', async (t) => {
  const fake = await startFake(t, { rfc6962Logs: 1, staticLogs: 1, initialSize: 300 });
  const dir = await tempDir(t);
  const server = await startReal(testConfig(fake, dir, { durablePingIntervalMs: 50 }));
  t.after(() => server.close());
  const atHeads = () => fake.logs.every((l) => nextIndexes(server).get(l.url) === fake.size(l.url));
  await whenFake(fake, atHeads);
  const proxy = await CuttableProxy.start(server.port);
  t.after(() => proxy.close());
  const feed = new DurableFeed(() => `ws://127.0.0.1:${proxy.port}/full-stream?id=steady`);
  t.after(() => feed.close());
  await waitUntil('connected', 5000, () => feed.connected);
  const start = new Map(fake.logs.map((l) => [l.url, fake.size(l.url)]));
  const hasAll = () => fake.logs.every((l) => feed.received(l.url).size === fake.size(l.url) - start.get(l.url)!);

  for (let cut = 0; cut < 3; cut++) {
    fake.append(30);
    await feed.until('the appended entries', 10_000, hasAll);
    proxy.cutAll();
    await waitUntil('the server saw the cut', 5000, () => server.hub.clientCount === 0);
    fake.append(25); // published while the client is away
    await whenFake(fake, atHeads);
    proxy.restore();
    await feed.until('the entries of the cut', 10_000, hasAll);
  }
  // A stall: the server keeps writing into a connection that does not move.
  proxy.stall();
  fake.append(400);
  await whenFake(fake, atHeads);
  proxy.unstall();
  fake.append(10);
  await feed.until('everything', 20_000, hasAll);

  for (const l of fake.logs) {
    assert.deepEqual([...feed.received(l.url)].sort((a, b) => a - b), range(start.get(l.url)!, fake.size(l.url)), l.url);
  }
  assert.ok(increasingPerConnection(feed), 'strictly increasing per log within every connection');
  assert.ok(feed.connections.length >= 4, `${feed.connections.length} connections`);
  const dups = fake.logs.reduce((n, l) => n + feed.duplicates(l.url), 0);
  // Only the unconfirmed tail of each cut can repeat: whatever a connection receives again comes from the
  // connection just before it (a resume never goes back past a confirmed position, however the pings and
  // the cuts fell on a loaded machine), and it is that connection's last frames.
  for (let i = 1; i < feed.connections.length; i++) {
    for (const l of fake.logs) {
      const before = new Set(feed.connections.slice(0, i - 1).flatMap((c) => c.get(l.url) ?? []));
      const previous = feed.connections[i - 1].get(l.url) ?? [];
      const again = (feed.connections[i].get(l.url) ?? []).filter((x) => before.has(x) || previous.includes(x));
      assert.ok(again.every((x) => !before.has(x) || previous.includes(x)), `connection ${i} of ${l.url} repeats frames older than the connection before it`);
      assert.deepEqual(again, previous.slice(previous.length - again.length), `connection ${i} of ${l.url} repeats the previous connection's tail`);
    }
  }
  console.log(`durable across 3 cuts and a stall: ${feed.connections.length} connections, ${dups} frames repeated`);
});
