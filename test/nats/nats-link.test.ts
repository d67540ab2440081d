// Brief NATS outages against a real nats-server restarted on its port. After each, the link retries
// from the start of its backoff, not from its cap; and publishes left unanswered by the server that
// went away are sent again at the reconnection instead of waiting out their timeout. Cap and timeout
// are set to ten minutes here, so each property shows as minutes against a second or so: the tests need
// no tight wall-clock bound (the failover test's old 6 s bound stood in for them on a loaded machine).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { silentLogger } from '../../src/log/logger.js';
import { jetstreamManager } from '@nats-io/jetstream';
import { JetStreamPublisher } from '../../src/nats/jetstream-publisher.js';
import { NatsLink } from '../../src/nats/nats-link.js';
import { createNatsMetrics } from '../../src/nats/nats-metrics.js';
import { ensureStream, entriesSubject } from '../../src/nats/stream-setup.js';
import type { StreamFrames } from '../../src/stream/fanout-hub.js';
import { NatsServer, natsSkip } from '../support/nats-server.js';

/**
 * Liveness bound of one reconnection. It normally takes well under a second (first retries 25-50 ms,
 * then doubling); a link whose backoff sat at its 10-minute cap would wait at least 5 minutes. The gap
 * is wide enough that no load on the machine can blur it.
 */
const RECONNECT_BOUND_MS = 60_000;

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms))),
  ]);
}

test('after each brief NATS restart the link retries from the start of its backoff, not from its cap', { skip: natsSkip(), timeout: 300_000 }, async (t) => {
  const server = await NatsServer.start();
  t.after(() => server.dispose());
  const registry = new Registry();
  const link = new NatsLink({ servers: [server.url], name: 'nats-link test', logger: silentLogger, metrics: createNatsMetrics(registry), backoff: { baseMs: 50, maxMs: 600_000 } });
  t.after(() => link.close());
  await within(link.ready(), RECONNECT_BOUND_MS, 'the first connection');
  for (let round = 1; round <= 3; round++) {
    const reconnected = new Promise<void>((resolve) => {
      const off = link.onReconnect(() => {
        off();
        resolve();
      });
    });
    await server.stop();
    assert.equal(await within(waitDisconnected(link), RECONNECT_BOUND_MS, 'the link to notice'), false);
    await server.start();
    await within(reconnected, RECONNECT_BOUND_MS, `round ${round}: the link to reconnect`);
    assert.equal(link.connected, true);
  }
  const reconnects = (await registry.getSingleMetric('certstream_nats_reconnects_total')!.get()).values[0]?.value;
  assert.equal(reconnects, 3);
});

/** Resolves with `link.connected` once it is false (checked every 10 ms: the link has no event for it). */
async function waitDisconnected(link: NatsLink): Promise<boolean> {
  while (link.connected) await new Promise((resolve) => setTimeout(resolve, 10));
  return link.connected;
}

const LOG = 'https://ct.example/log/';

function entry(index: number): StreamFrames {
  const full = JSON.stringify({ message_type: 'certificate_update', data: { cert_index: index, source: { url: LOG }, leaf_cert: { as_der: 'QUJD'.repeat(60) } } });
  const lite = JSON.stringify({ message_type: 'certificate_update', data: { cert_index: index, source: { url: LOG } } });
  return { full, lite, domains: JSON.stringify({ message_type: 'dns_entries', data: [`n${index}.example`] }), log: LOG, index, seen: 1_767_225_600 + index };
}

test('publishes the killed server never answered are sent again at the reconnection, not after their timeout', { skip: natsSkip(), timeout: 300_000 }, async (t) => {
  const server = await NatsServer.start();
  t.after(() => server.dispose());
  const registry = new Registry();
  const metrics = createNatsMetrics(registry);
  const link = new NatsLink({ servers: [server.url], name: 'publisher test', logger: silentLogger, metrics, backoff: { baseMs: 50, maxMs: 1000 } });
  t.after(() => link.close());
  const nc = await within(link.ready(), RECONNECT_BOUND_MS, 'the first connection');
  await ensureStream(nc, { name: 'T', maxAgeMs: 600_000, maxBytes: 1 << 30 });
  const p = new JetStreamPublisher({ connection: () => link.ready(), subject: entriesSubject('T'), metrics, logger: silentLogger, timeoutMs: 600_000, onReconnect: (l) => link.onReconnect(l) });
  t.after(() => p.close());
  const N = 20_000;
  p.publish(Array.from({ length: N / 2 }, (_, i) => entry(i)));
  // Killed while publishes are in flight (some acknowledged, the rest never will be by this server).
  await within(
    (async () => {
      while ((await metrics.published.get()).values.reduce((n, v) => n + v.value, 0) < 1000) await new Promise((resolve) => setTimeout(resolve, 5));
    })(),
    RECONNECT_BOUND_MS,
    'the first acknowledgements',
  );
  await server.kill();
  p.publish(Array.from({ length: N / 2 }, (_, i) => entry(N / 2 + i)));
  await server.start();
  await p.settled(RECONNECT_BOUND_MS);
  const jsm = await jetstreamManager(await link.ready());
  assert.equal((await jsm.streams.info('T')).state.messages, N, 'each entry stored once');
  assert.ok((await metrics.publishErrors.get()).values[0].value >= 1, 'the kill interrupted publishing');
});
