// The key-value mirror (src/nats/kv-mirror.ts) against a real nats-server: one connection mirrors a
// bucket, another (a second node) writes to it. Saved values first, then every change, only
// non-negative integers; a watch that ends on an error is logged, counted and started again, so the
// node keeps learning the others' values; stop() and a closed connection end it without a restart.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Kvm, type KV } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Registry } from 'prom-client';
import { createLogger } from '../../src/log/logger.js';
import { mirrorBucket, type KvValue } from '../../src/nats/kv-mirror.js';
import { createNatsMetrics } from '../../src/nats/nats-metrics.js';
import { NatsServer, natsSkip } from '../support/nats-server.js';
import { ConditionWaiters } from '../support/wait-until.js';

/** Liveness bound of every wait below: a change crosses a local nats-server in milliseconds. */
const WAIT_MS = 10_000;

interface World {
  server: NatsServer;
  /** The mirroring node's connection and its view of the bucket. */
  nc: NatsConnection;
  kv: KV;
  /** Another node: its own connection to the same bucket. */
  other: KV;
}

async function withWorld(body: (w: World) => Promise<void>): Promise<void> {
  const server = await NatsServer.start();
  const conns: NatsConnection[] = [];
  try {
    const nc = await connect({ servers: server.url });
    conns.push(nc);
    const kv = await new Kvm(nc).create('mirror_test', { history: 1 });
    const nc2 = await connect({ servers: server.url });
    conns.push(nc2);
    const other = await new Kvm(nc2).open('mirror_test');
    await body({ server, nc, kv, other });
  } finally {
    for (const c of conns) if (!c.isClosed()) await c.close();
    await server.dispose();
  }
}

/** What a mirror handed on, per key the newest by revision; waits re-checked on every value. */
function recorder() {
  const latest = new Map<string, KvValue>();
  const all: KvValue[] = [];
  const waiters = new ConditionWaiters();
  return {
    latest,
    all,
    seen(v: KvValue) {
      all.push(v);
      if ((latest.get(v.key)?.revision ?? 0) < v.revision) latest.set(v.key, v);
      waiters.notify();
    },
    until(what: string, cond: () => boolean) {
      return waiters.until(what, WAIT_MS, cond, () => JSON.stringify([...latest.values()]));
    },
    value(key: string) {
      return latest.get(key)?.value;
    },
  };
}

/** A logger whose JSON lines the test reads. */
function capturingLogger() {
  const lines: { level: string; msg: string; error?: string }[] = [];
  return { lines, logger: createLogger({ level: 'debug', write: (line: string) => void lines.push(JSON.parse(line)) }) };
}

describe('kv-mirror (real nats-server)', { skip: natsSkip() }, () => {
  it('hands on every saved value, then every change another node makes; only non-negative integers', { timeout: 60_000 }, () =>
    withWorld(async (w) => {
      await w.kv.put('a', '1');
      await w.kv.put('b', '20');
      await w.kv.put('b', '21');
      await w.kv.put('bad', 'not a number');
      const r = recorder();
      const mirror = await mirrorBucket(w.kv, 'the test bucket', r.seen);
      try {
        // Saved values are handed on before mirrorBucket resolves.
        assert.equal(r.value('a'), 1);
        assert.equal(r.value('b'), 21);
        await w.other.put('c', '300');
        await w.other.put('a', '2');
        await w.other.put('neg', '-1');
        await w.other.put('frac', '1.5');
        await w.other.delete('b');
        await w.other.put('last', '0');
        await r.until("the other node's changes", () => r.value('last') === 0);
        assert.equal(r.value('a'), 2);
        assert.equal(r.value('c'), 300);
        assert.equal(r.value('b'), 21, 'a delete is not a value');
        for (const key of ['bad', 'neg', 'frac']) assert.equal(r.latest.has(key), false, `${key}: not a non-negative integer`);
        // The values of one key arrive in revision order.
        const revisions = r.all.filter((v) => v.key === 'a').map((v) => v.revision);
        assert.deepEqual(revisions, [...revisions].sort((x, y) => x - y));
      } finally {
        mirror.stop();
      }
    }));

  it('a watch that ends on an error is logged, counted and started again: the node keeps learning the others\' values', { timeout: 60_000 }, () =>
    withWorld(async (w) => {
      const metrics = createNatsMetrics(new Registry());
      const restarts = () => metrics.kvWatchRestarts.get().then((m) => m.values.find((v) => v.labels.bucket === 'mirror_test')?.value ?? 0);
      const { lines, logger } = capturingLogger();
      const r = recorder();
      let failOnce = true;
      const seen = (v: KvValue) => {
        // The first change of key "boom" fails its handling: the watch ends with that error.
        if (v.key === 'boom' && failOnce) {
          failOnce = false;
          throw new Error('handling failed');
        }
        r.seen(v);
      };
      const mirror = await mirrorBucket(w.kv, 'the test bucket', seen, { logger, restarts: { inc: () => metrics.kvWatchRestarts.inc({ bucket: 'mirror_test' }) } });
      try {
        await w.other.put('before', '1');
        await r.until('a change before the failure', () => r.value('before') === 1);
        await w.other.put('boom', '5');
        // Written after the failure: a mirror whose watch ended silently never learns these.
        await w.other.put('after', '7');
        await r.until('changes made after the watch failed', () => r.value('after') === 7 && r.value('boom') === 5);
        assert.equal(await restarts(), 1, 'one restart counted');
        const ended = lines.filter((l) => l.msg.includes('ended'));
        assert.equal(ended.length, 1, JSON.stringify(lines));
        assert.equal(ended[0].level, 'warn');
        assert.match(ended[0].error ?? '', /handling failed/);
        // And it goes on watching.
        await w.other.put('after', '8');
        await r.until('later changes too', () => r.value('after') === 8);
        assert.equal(await restarts(), 1);
      } finally {
        mirror.stop();
      }
    }));

  it('stop() and a closed connection end the watch without a restart', { timeout: 60_000 }, () =>
    withWorld(async (w) => {
      let count = 0;
      const { lines, logger } = capturingLogger();
      const options = { logger, restarts: { inc: () => void count++ } };
      const r = recorder();
      const stopped = await mirrorBucket(w.kv, 'the test bucket', r.seen, options);
      await w.other.put('k', '1');
      await r.until('a change', () => r.value('k') === 1);
      stopped.stop();
      // A second mirror on the same connection, then the connection closes under it.
      const r2 = recorder();
      await mirrorBucket(w.kv, 'the test bucket', r2.seen, options);
      await w.other.put('k', '2');
      await r2.until('the second mirror sees the change', () => r2.value('k') === 2);
      await w.nc.close();
      // Nothing to wait for when it works: a mirror that restarts a closed watch does so at once (its
      // first restart is immediate), well within this pause; too short a pause could only let it pass.
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(r.value('k'), 1, 'the stopped mirror hands on nothing more');
      assert.equal(count, 0, 'no restart counted');
      assert.deepEqual(lines, [], 'nothing logged');
    }));
});
