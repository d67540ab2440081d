// Durable positions in a JetStream key-value bucket (src/nats/kv-positions.ts) against a real
// nats-server, through the public API only (open, get, set, size, close): two edges share the bucket,
// each on its own connection. A position one edge saves is what the other resumes from; a reopened
// store reads what was saved; a confirmation not yet saved is not moved back by another edge's save;
// any NAME is a plain key.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import type { KV } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { silentLogger } from '../../src/log/logger.js';
import { KvPositions } from '../../src/nats/kv-positions.js';
import { bucketKey, openBucket } from '../../src/nats/stream-setup.js';
import { NatsServer, natsSkip } from '../support/nats-server.js';
import { waitUntil } from '../support/wait-until.js';

/** Liveness bound of every wait below: a save crosses a local nats-server in milliseconds. */
const WAIT_MS = 10_000;
const BUCKET = 'T_positions';

interface Edge {
  nc: NatsConnection;
  kv: KV;
}

interface World {
  server: NatsServer;
  /** A new edge: its own connection and its own handle on the bucket. */
  edge(): Promise<Edge>;
  /** Opens a store on an edge; closed at the end of the test unless the test closed it. */
  open(edge: Edge, flushMs?: number): Promise<KvPositions>;
}

async function withWorld(body: (w: World) => Promise<void>): Promise<void> {
  const server = await NatsServer.start();
  const conns: NatsConnection[] = [];
  const stores: KvPositions[] = [];
  try {
    await body({
      server,
      async edge() {
        const nc = await connect({ servers: server.url });
        conns.push(nc);
        return { nc, kv: await openBucket(nc, 'T', 'positions') };
      },
      async open(edge, flushMs = 20) {
        const store = await KvPositions.open({ kv: edge.kv, bucketName: BUCKET, flushMs, logger: silentLogger });
        stores.push(store);
        return store;
      },
    });
  } finally {
    for (const s of stores) await s.close().catch(() => undefined);
    for (const c of conns) if (!c.isClosed()) await c.close();
    await server.dispose();
  }
}

describe('KvPositions (real nats-server)', { skip: natsSkip() }, () => {
  it('a position one edge confirms is what every other edge resumes from, and what a reopened store reads', { timeout: 60_000 }, () =>
    withWorld(async (w) => {
      const [e1, e2] = [await w.edge(), await w.edge()];
      const a = await w.open(e1);
      const b = await w.open(e2);
      assert.equal(a.size, 0);
      assert.equal(a.get('alice', 'lite'), undefined);
      a.set('alice', 'lite', 42);
      a.set('alice', 'full', 7);
      b.set('bob', 'domains', 0);
      assert.equal(a.get('alice', 'lite'), 42, 'a set is read back at once');
      await waitUntil("b learns a's positions", WAIT_MS, () => b.get('alice', 'lite') === 42 && b.get('alice', 'full') === 7);
      await waitUntil("a learns b's position", WAIT_MS, () => a.get('bob', 'domains') === 0);
      assert.equal(a.get('alice', 'domains'), undefined, 'per stream');
      assert.equal(a.size, 3);
      assert.equal(b.size, 3);
      // The client moves to b and confirms further there; a learns that too.
      b.set('alice', 'lite', 50);
      await waitUntil('a learns the newer position', WAIT_MS, () => a.get('alice', 'lite') === 50);
      await a.close();
      await b.close();
      const c = await w.open(await w.edge());
      assert.equal(c.get('alice', 'lite'), 50, 'a new store reads the saved positions when it opens');
      assert.equal(c.get('alice', 'full'), 7);
      assert.equal(c.get('bob', 'domains'), 0);
      assert.equal(c.size, 3);
    }));

  it("refresh() reads a NAME's latest save from the bucket, before the watch has brought it (a client moving from a killed edge)", { timeout: 60_000 }, () =>
    withWorld(async (w) => {
      const b = await w.open(await w.edge());
      b.set('dave', 'full', 10);
      await waitUntil('the first position saved', WAIT_MS, async () => (await (await w.edge()).kv.get('full.' + bucketKey('dave')))?.string() === '10');
      // Another edge saves a newer position while this process's event loop is blocked (a synchronous
      // child process): the watch cannot deliver it before the lines that follow have run.
      const put = `import { connect } from '@nats-io/transport-node'; import { Kvm } from '@nats-io/kv';
        const nc = await connect({ servers: ${JSON.stringify(w.server.url)} });
        await (await new Kvm(nc).open(${JSON.stringify(BUCKET)})).put(${JSON.stringify('full.' + bucketKey('dave'))}, '500');
        await nc.close();`;
      execFileSync(process.execPath, ['--input-type=module', '-e', put]);
      assert.equal(b.get('dave', 'full'), 10, 'the mirror has not seen the other edge\'s save yet (the case refresh() is for)');
      await b.refresh('dave', 'full');
      assert.equal(b.get('dave', 'full'), 500, 'after refresh(), the position is the bucket\'s latest');
      await b.refresh('nobody', 'full');
      assert.equal(b.get('nobody', 'full'), undefined, 'a NAME the bucket does not hold stays unknown');
    }));

  it('close() saves the confirmations not yet saved', { timeout: 60_000 }, () =>
    withWorld(async (w) => {
      // No periodic save within the test: only close() can have written it.
      const a = await w.open(await w.edge(), 3_600_000);
      a.set('carol', 'full', 1234);
      await a.close();
      const b = await w.open(await w.edge());
      assert.equal(b.get('carol', 'full'), 1234);
    }));

  it("a confirmation not yet saved is not moved back by another edge's save", { timeout: 60_000 }, () =>
    withWorld(async (w) => {
      const e1 = await w.edge();
      // a saves only at close: its local confirmation stays unsaved while b saves an older one.
      const a = await w.open(e1, 3_600_000);
      const b = await w.open(await w.edge());
      a.set('dave', 'lite', 20);
      b.set('dave', 'lite', 5);
      // A later save of b's, seen by a, proves a has also seen b's save of dave (one watch, in order).
      await waitUntil('b saved', WAIT_MS, () => b.get('dave', 'lite') === 5);
      b.set('marker', 'lite', 1);
      await waitUntil("a has seen b's saves", WAIT_MS, () => a.get('marker', 'lite') === 1);
      assert.equal(a.get('dave', 'lite'), 20, "a keeps its own unsaved confirmation");
      await a.close();
      await waitUntil("b learns a's save at close", WAIT_MS, () => b.get('dave', 'lite') === 20);
    }));

  it('NAMEs are plain keys: Object.prototype members, dots, slashes, non-ASCII', { timeout: 60_000 }, () =>
    withWorld(async (w) => {
      const a = await w.open(await w.edge());
      const b = await w.open(await w.edge());
      const names = ['__proto__', 'constructor', 'toString', 'a.b', 'a/b', 'a b', 'ünïcode', '*', '>'];
      names.forEach((name, i) => a.set(name, 'domains', 100 + i));
      await waitUntil('b learns every name', WAIT_MS, () => names.every((name, i) => b.get(name, 'domains') === 100 + i));
      assert.equal(b.size, names.length);
      assert.equal(({} as Record<string, unknown>).domains, undefined, 'Object.prototype untouched');
      assert.equal(b.get('a', 'domains'), undefined);
    }));

  it('values in the bucket that are not positions are ignored', { timeout: 60_000 }, () =>
    withWorld(async (w) => {
      const e1 = await w.edge();
      const a = await w.open(e1);
      // Written by something else than an edge: not a number, negative, a key of no stream, a delete.
      const key = (stream: string, name: string) => `${stream}.${Buffer.from(name).toString('base64url')}`;
      await e1.kv.put(key('lite', 'eve'), 'abc');
      await e1.kv.put(key('full', 'eve'), '-3');
      await e1.kv.put(key('lite', 'frank'), '9');
      await e1.kv.delete(key('lite', 'frank'));
      const b = await w.open(await w.edge());
      a.set('marker', 'lite', 1);
      await waitUntil('b has seen the bucket up to the marker', WAIT_MS, () => b.get('marker', 'lite') === 1);
      assert.equal(b.get('eve', 'lite'), undefined);
      assert.equal(b.get('eve', 'full'), undefined);
      assert.equal(b.get('frank', 'lite'), undefined, 'a deleted position is gone');
    }));

  it('a confirmation made while NATS is away is saved once it is back, and the edges learn it', { timeout: 90_000 }, () =>
    withWorld(async (w) => {
      const [e1, e2] = [await w.edge(), await w.edge()];
      const a = await w.open(e1);
      const b = await w.open(e2);
      await w.server.stop();
      a.set('gina', 'lite', 3);
      await w.server.start();
      // The client reconnects (about 2 s), a's next flush saves, b's watch hands it on.
      await waitUntil('b learns the position saved after the restart', 30_000, () => b.get('gina', 'lite') === 3);
    }));
});
