// The lifetime and the cap of durable positions in NATS mode (src/nats/kv-positions.ts) against a real
// nats-server: a key's last save is its last use, so an edge whose clock (injected) is past a NAME's
// last save by --durable-expire forgets it and deletes it from the bucket, while a NAME saved later
// stays; a store opened afterwards (a restart, another edge) no longer finds it; an edge that judged a
// NAME expired does not delete the newer save another edge made meanwhile. The cap counts the keys an
// edge has seen from every edge.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KV } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { silentLogger } from '../../src/log/logger.js';
import { KvPositions } from '../../src/nats/kv-positions.js';
import { bucketKey, openBucket } from '../../src/nats/stream-setup.js';
import { NatsServer, natsSkip } from '../support/nats-server.js';
import { waitUntil } from '../support/wait-until.js';

const WAIT_MS = 10_000;
const HOUR = 3_600_000;

/** The time of a key's last save, epoch ms (undefined when it is gone or deleted). */
async function savedAt(kv: KV, name: string): Promise<number | undefined> {
  const e = await kv.get(`lite.${bucketKey(name)}`);
  return e === null || e.operation !== 'PUT' ? undefined : e.created.getTime();
}

describe('KvPositions: lifetime and cap (real nats-server)', { skip: natsSkip() }, () => {
  it('an edge forgets and deletes a NAME unused for the expiry time; a NAME saved later stays', { timeout: 60_000 }, async () => {
    const server = await NatsServer.start();
    const conns: NatsConnection[] = [];
    const stores: KvPositions[] = [];
    const edge = async (now?: () => number, maxPositions?: number, flushMs = 20) => {
      const nc = await connect({ servers: server.url });
      conns.push(nc);
      const kv = await openBucket(nc, 'T', 'positions');
      const store = await KvPositions.open({ kv, bucketName: 'T_positions', flushMs, logger: silentLogger, expireMs: HOUR, now, maxPositions });
      stores.push(store);
      return { kv, store };
    };
    try {
      const a = await edge();
      a.store.set('__proto__', 'lite', 5);
      a.store.set('early', 'lite', 5);
      await waitUntil('the early saves', WAIT_MS, async () => (await savedAt(a.kv, 'early')) !== undefined && (await savedAt(a.kv, '__proto__')) !== undefined);
      const early = Math.max((await savedAt(a.kv, 'early'))!, (await savedAt(a.kv, '__proto__'))!);
      await waitUntil('the clock to move on', WAIT_MS, () => Date.now() > early + 20);
      a.store.set('late', 'lite', 7);
      await waitUntil('the late save', WAIT_MS, async () => (await savedAt(a.kv, 'late')) !== undefined);
      const late = (await savedAt(a.kv, 'late'))!;
      assert.ok(late > early, `saved later (${late} > ${early})`);

      // An edge whose clock reads the expiry time after the early saves, but not after the late one.
      const b = await edge(() => early + HOUR + Math.floor((late - early) / 2));
      assert.equal(b.store.get('early', 'lite'), undefined, 'forgotten at open');
      assert.equal(b.store.get('__proto__', 'lite'), undefined, '__proto__ expires like any other name');
      assert.equal(b.store.get('late', 'lite'), 7, 'a NAME saved within the expiry time stays');
      await waitUntil('the expired keys deleted from the bucket', WAIT_MS, async () => (await savedAt(a.kv, 'early')) === undefined && (await savedAt(a.kv, '__proto__')) === undefined);
      assert.equal(await savedAt(a.kv, 'late'), late, 'the late key untouched');

      // A restart (or any other edge) no longer finds them.
      const c = await edge();
      assert.equal(c.store.get('early', 'lite'), undefined);
      assert.equal(c.store.get('late', 'lite'), 7);
      assert.equal(c.store.size, 1);

      // An edge that judged a NAME expired while another edge used it meanwhile: the newer save stays
      // (the delete is conditional on the revision it judged, and a newer save cancels it).
      // No timed save on e: its delete waits for the close, after a's newer save.
      const e = await edge(() => late + 2 * HOUR, undefined, HOUR);
      assert.equal(e.store.get('late', 'lite'), undefined, 'e judged it expired');
      a.store.set('late', 'lite', 8);
      await waitUntil('e to see the newer save', WAIT_MS, () => e.store.get('late', 'lite') === 8);
      await e.store.close();
      const after = await a.kv.get(`lite.${bucketKey('late')}`);
      assert.equal(after?.operation, 'PUT', 'the NAME used on another edge is still saved');
      assert.equal(after?.string(), '8');

      // The cap counts what an edge has seen from every edge: 'late' (saved by a) fills a cap of 1.
      const d = await edge(undefined, 1);
      assert.equal(d.store.admits('late', 'lite'), true, 'a known NAME is admitted');
      assert.equal(d.store.admits('new', 'lite'), false, 'a new NAME is not');
    } finally {
      for (const s of stores) await s.close().catch(() => undefined);
      for (const c of conns) if (!c.isClosed()) await c.close();
      await server.dispose();
    }
  });
});
