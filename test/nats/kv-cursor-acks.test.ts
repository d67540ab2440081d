// Issue 19 §1, against a real nats-server: a cursor saved to the key-value bucket never points past
// entries JetStream has not acknowledged. The cursor store waits for the publisher's acknowledgements
// before it writes; the followers keep moving the cursor during that wait, and what it writes must be
// the cursor as it was when the wait began, not as it is when the wait ends. (The store once read the
// cursor after the wait: with 100 entries acknowledged it saved 250.)
//
// Acknowledgements are held back two ways: the replies from the server are stalled on their way back
// (a paused or congested server, as the client sees it), and the stream refuses entries past its limit
// (the publisher keeps retrying them, no acknowledgement ever comes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as tick } from 'node:timers/promises';
import { jetstreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Registry } from 'prom-client';
import { silentLogger } from '../../src/log/logger.js';
import { JetStreamPublisher } from '../../src/nats/jetstream-publisher.js';
import { KvCursorStore } from '../../src/nats/kv-cursor-store.js';
import { createNatsMetrics } from '../../src/nats/nats-metrics.js';
import { ensureStream, entriesSubject, openBucket } from '../../src/nats/stream-setup.js';
import type { StreamFrames } from '../../src/stream/fanout-hub.js';
import { NatsServer, natsSkip } from '../support/nats-server.js';
import { CuttableProxy } from '../support/tcp-proxy.js';

const skip = natsSkip();
const LOG = 'https://ct.example/log/';

function entries(from: number, to: number): StreamFrames[] {
  return Array.from({ length: to - from }, (_, i) => {
    const index = from + i;
    const lite = JSON.stringify({ message_type: 'certificate_update', data: { cert_index: index, source: { url: LOG } } });
    return { full: lite, lite, domains: JSON.stringify({ message_type: 'dns_entries', data: [`n${index}.example`] }), log: LOG, index, seen: 1_767_225_600 + index };
  });
}

/**
 * A follower of one log as the ingest wires it: entries go to the publisher first, then the cursor
 * moves past them (log-follower.ts's order); the cursor store waits for the publisher's `settled()`.
 * `duringWait` runs once, right after the next write began waiting for the acknowledgements.
 * Every value the store writes to the bucket is recorded with the entries acknowledged at that moment.
 */
async function ingestOf(nc: NatsConnection) {
  const metrics = createNatsMetrics(new Registry());
  const publisher = new JetStreamPublisher({ connection: async () => nc, subject: entriesSubject('T'), metrics, logger: silentLogger });
  let handedOver = 0;
  const acknowledged = () => handedOver - publisher.pending;
  const writes: { saved: number; acknowledged: number }[] = [];
  const kv = recording(await openBucket(nc, 'T', 'cursors'), (value) => writes.push({ saved: Number(value), acknowledged: acknowledged() }));
  const wait: { duringWait?: () => void } = {};
  const cursors = new KvCursorStore({
    bucket: async () => kv,
    bucketName: 'T_cursors',
    flushMs: 3_600_000,
    logger: silentLogger,
    beforeWrite: () => {
      const settled = publisher.settled();
      const moveOn = wait.duringWait;
      wait.duringWait = undefined;
      moveOn?.();
      return settled;
    },
  });
  await cursors.load();
  const follow = (from: number, to: number) => {
    publisher.publish(entries(from, to));
    handedOver += to - from;
    cursors.set(LOG, to);
  };
  return { publisher, cursors, follow, writes, acknowledged, wait };
}

/** The bucket with every create/update of a value reported to `wrote` first. */
function recording(kv: KV, wrote: (value: string) => void): KV {
  return new Proxy(kv, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target) as unknown;
      if (typeof v !== 'function') return v;
      if (prop === 'create' || prop === 'update' || prop === 'put') {
        return (key: string, value: string, ...rest: unknown[]) => {
          wrote(value);
          return (v as (...a: unknown[]) => unknown).call(target, key, value, ...rest);
        };
      }
      return (v as (...a: unknown[]) => unknown).bind(target);
    },
  });
}

test('acknowledgements held back by a stalled connection: each saved cursor is at most what was acknowledged when it was written', { skip, timeout: 60_000 }, async (t) => {
  const server = await NatsServer.start();
  t.after(() => server.dispose());
  const proxy = await CuttableProxy.start(server.port);
  t.after(() => proxy.close());
  const nc = await connect({ servers: `127.0.0.1:${proxy.port}` });
  t.after(async () => void (await nc.close()));
  await ensureStream(nc, { name: 'T', maxAgeMs: 600_000, maxBytes: 1 << 30 });
  const ingest = await ingestOf(nc);

  proxy.stall(); // the server's replies (acknowledgements) stop reaching the client
  ingest.follow(0, 100);
  await tick(); // the publisher has sent these 100: its next batch starts at 100
  // While the write waits for the 100 acknowledgements, the follower moves on to 250.
  ingest.wait.duringWait = () => ingest.follow(100, 250);
  const first = ingest.cursors.flush();
  await tick();
  assert.equal(ingest.wait.duringWait, undefined, 'the write is waiting for the acknowledgements');
  proxy.unstall();
  await first;
  assert.ok(ingest.writes.length >= 1, 'the first flush wrote the cursor');
  assert.deepEqual(ingest.writes[0], { saved: 100, acknowledged: 100 }, `saved ${ingest.writes[0].saved} with ${ingest.writes[0].acknowledged} entries acknowledged`);

  // The cursor set during the wait is the next write's: once its 150 entries are acknowledged.
  await ingest.cursors.flush();
  for (const w of ingest.writes) assert.ok(w.saved <= w.acknowledged, `saved ${w.saved} with only ${w.acknowledged} acknowledged`);
  assert.equal(ingest.writes.at(-1)?.saved, 250);
  assert.equal(ingest.cursors.get(LOG), 250);
  await ingest.cursors.close();
  await ingest.publisher.close();
});

test('acknowledgements that never come (the stream refuses past its limit): the saved cursor stays at what the stream holds', { skip, timeout: 60_000 }, async (t) => {
  const server = await NatsServer.start();
  t.after(() => server.dispose());
  const nc = await connect({ servers: server.url });
  t.after(async () => void (await nc.close()));
  const info = await ensureStream(nc, { name: 'T', maxAgeMs: 600_000, maxBytes: 1 << 30 });
  const jsm = await jetstreamManager(nc);
  // Room for 100 entries, then new ones are refused (the publisher retries them, in order).
  await jsm.streams.update('T', { ...info.config, discard: 'new', max_msgs: 100 });
  const ingest = await ingestOf(nc);

  ingest.follow(0, 100);
  ingest.wait.duringWait = () => ingest.follow(100, 250);
  await ingest.cursors.flush();
  const stored = (await jsm.streams.info('T')).state.messages;
  const kv = await openBucket(nc, 'T', 'cursors');
  const saved = Number((await kv.get(Buffer.from(LOG).toString('base64url')))?.string());
  assert.equal(stored, 100, 'the stream holds the first 100 entries');
  assert.ok(saved <= stored, `the bucket's cursor is ${saved} with ${stored} entries in the stream`);
  assert.equal(saved, 100);
  assert.equal(ingest.acknowledged(), 100);

  // Room again: the publisher's retry lands the 150, and the next write saves the cursor set meanwhile.
  await jsm.streams.update('T', { ...info.config, discard: 'old', max_msgs: -1 });
  await ingest.cursors.flush();
  assert.equal(Number((await kv.get(Buffer.from(LOG).toString('base64url')))?.string()), 250);
  assert.equal((await jsm.streams.info('T')).state.messages, 250);
  for (const w of ingest.writes) assert.ok(w.saved <= w.acknowledged, `saved ${w.saved} with only ${w.acknowledged} acknowledged`);
  await ingest.cursors.close();
  await ingest.publisher.close();
});
