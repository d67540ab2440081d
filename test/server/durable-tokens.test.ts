// Durable NAMEs belong to a token (issue 22): with tokens the key of a durable subscription is
// (token NAME, id, stream). Token B connecting with A's NAME is another subscription — A is not taken
// over — and A, cut and reconnected, resumes with nothing lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readSavedPositions } from '../../src/stream/durable-positions.js';
import { DurableFeed } from '../support/durable-feed.js';
import { range } from '../support/entry-collector.js';
import { CuttableProxy } from '../support/tcp-proxy.js';
import { waitUntil } from '../support/wait-until.js';
import { upgrade } from '../support/ws-upgrade.js';
import { nextIndexes, startFake, startReal, tempDir, testConfig, whenFake } from './server-harness.js';

const sha = (token: string) => createHash('sha256').update(token).digest('hex');

/** A state directory with a tokens file for alice and bob; the config's `tokens` points at it. */
async function withTokens(t: unknown): Promise<{ dir: string; tokens: string }> {
  const dir = await tempDir(t);
  const tokens = join(dir, 'tokens');
  await writeFile(tokens, `alice ${sha('alice-token')}\nbob ${sha('bob-token')}\n`);
  return { dir, tokens };
}

test("token B with token A's NAME does not close A; A then resumes with 0 lost", { timeout: 90_000 }, async (t) => {
  const fake = await startFake(t, { rfc6962Logs: 1, staticLogs: 1, initialSize: 50 });
  const { dir, tokens } = await withTokens(t);
  const server = await startReal(testConfig(fake, dir, { tokens, durablePingIntervalMs: 50 }));
  let closed = false;
  t.after(() => (closed ? undefined : server.close()));
  const atHeads = () => fake.logs.every((l) => nextIndexes(server).get(l.url) === fake.size(l.url));
  await whenFake(fake, atHeads);
  const proxy = await CuttableProxy.start(server.port);
  t.after(() => proxy.close());
  const alice = new DurableFeed(() => `ws://127.0.0.1:${proxy.port}/full-stream?id=watch&token=alice-token`);
  t.after(() => alice.close());
  await waitUntil('alice connected', 10_000, () => alice.connected && server.hub.clientCount === 1);
  const start = new Map(fake.logs.map((l) => [l.url, fake.size(l.url)]));
  const hasAll = (feed: DurableFeed) => () => fake.logs.every((l) => feed.received(l.url).size === fake.size(l.url) - start.get(l.url)!);

  const bob = new DurableFeed(() => `ws://127.0.0.1:${server.port}/full-stream?id=watch&token=bob-token`);
  t.after(() => bob.close());
  await waitUntil('bob connected too', 10_000, () => bob.connected && server.hub.clientCount === 2);
  fake.append(20);
  await bob.until("bob's entries", 20_000, hasAll(bob));
  await alice.until("alice's entries", 20_000, hasAll(alice));
  assert.equal(alice.connections.length, 1, 'alice was never taken over');
  assert.equal(bob.connections.length, 1, 'bob was never taken over');
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  assert.match(metrics, /^certstream_client_disconnects_total\{reason="takeover"\} 0$/m);

  // Alice is cut; entries are published while she is away; she comes back and misses none.
  proxy.cutAll();
  await waitUntil('the server saw the cut', 10_000, () => server.hub.clientCount === 1);
  fake.append(25);
  await whenFake(fake, atHeads);
  proxy.restore();
  await alice.until('the entries of the cut', 20_000, hasAll(alice));
  for (const l of fake.logs) {
    assert.deepEqual([...alice.received(l.url)].sort((a, b) => a - b), range(start.get(l.url)!, fake.size(l.url)), `alice lost none of ${l.url}`);
  }
  alice.close();
  bob.close();
  closed = true;
  await server.close();
  // The positions store is keyed TOKEN/id: one position per token, none for the bare id.
  const saved = await readSavedPositions(dir);
  assert.deepEqual([...saved.keys()].sort(), ['alice/watch', 'bob/watch']);
});

test('--max-durable-subscriptions counts a token\'s NAME under its key: the holder comes back, a newcomer gets 503', { timeout: 60_000 }, async (t) => {
  const fake = await startFake(t, { rfc6962Logs: 1, staticLogs: 0, initialSize: 5 });
  const { dir, tokens } = await withTokens(t);
  const server = await startReal(testConfig(fake, dir, { tokens, maxDurableSubscriptions: 1 }));
  t.after(() => server.close());
  const ws = server.url.replace(/^http/, 'ws');
  const first = await upgrade(`${ws}/?id=watch&token=alice-token`);
  assert.equal(first.status, 101);
  first.ws!.close();
  await waitUntil('alice gone', 10_000, () => server.hub.clientCount === 0);
  const again = await upgrade(`${ws}/?id=watch&token=alice-token`);
  assert.equal(again.status, 101, "alice's NAME is held: she is admitted again");
  again.ws!.close();
  assert.equal((await upgrade(`${ws}/?id=watch&token=bob-token`)).status, 503, "bob's watch is another, new NAME: over the cap");
});
