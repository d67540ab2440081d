// --max-durable-subscriptions in NATS mode, in process against a real nats-server: the cap counts the
// positions of the shared bucket as each node knows them, so an edge that never saw a client refuses a
// new NAME (503, counted) once another node's clients fill the cap, and still admits the known NAMEs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WebSocket } from 'ws';
import { NatsServer, natsSkip } from '../support/nats-server.js';
import { waitUntil } from '../support/wait-until.js';
import { openOrRefused, type UpgradeResult } from '../support/ws-upgrade.js';
import { startFake, startReal, tempDir, testConfig } from '../server/server-harness.js';

test('an edge refuses a new NAME once the bucket holds --max-durable-subscriptions positions saved by another node', { skip: natsSkip(), timeout: 90_000 }, async (t) => {
  const nats = await NatsServer.start();
  const sockets: WebSocket[] = [];
  const fake = await startFake(t, { rfc6962Logs: 1, staticLogs: 0, initialSize: 10 });
  const common = { nats: nats.url, durablePingIntervalMs: 50, maxDurableSubscriptions: 2 } as const;
  const all = await startReal(testConfig(fake, await tempDir(t), { ...common, role: 'all' }));
  const edge = await startReal(testConfig(fake, await tempDir(t), { ...common, role: 'edge' }));
  try {
    const url = (port: number, id: string) => `ws://127.0.0.1:${port}/full-stream?id=${id}`;
    const keep = (r: UpgradeResult) => {
      if ('ws' in r) sockets.push(r.ws);
      return r;
    };
    // Until a node has opened the stream, ?id= gets a 503 to retry (no body).
    for (const id of ['a', 'b']) await waitUntil(`${id} accepted by the first node`, 30_000, async () => 'ws' in keep(await openOrRefused(url(all.port, id))));
    const metric = async (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(await (await fetch(`${edge.url}/metrics`)).text())?.[1]);
    await waitUntil('the edge serving and knowing both NAMEs', 30_000, async () => (await metric('certstream_durable_subscriptions')) === 2);
    assert.equal(await metric('certstream_durable_subscriptions_refused_total'), 0, 'present at 0');
    const r = keep(await openOrRefused(url(edge.port, 'c')));
    assert.ok('status' in r && r.status === 503 && r.body.startsWith('too many durable subscriptions'), 'a new NAME is refused on the edge');
    assert.equal(await metric('certstream_durable_subscriptions_refused_total'), 1, 'counted on the edge');
    const known = keep(await openOrRefused(url(edge.port, 'a')));
    assert.ok('ws' in known, 'a NAME the bucket holds is admitted on the edge');
    assert.equal(known.ws.readyState, WebSocket.OPEN);
  } finally {
    for (const ws of sockets) ws.terminate();
    await edge.close().catch(() => undefined);
    await all.close().catch(() => undefined);
    await nats.dispose();
  }
});
