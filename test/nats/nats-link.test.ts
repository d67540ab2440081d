// The NATS link's reconnect backoff against a real nats-server restarted on its port: after a brief
// outage the link must retry from the start of its backoff, not from its cap. The cap is set to ten
// minutes here, so the property shows as minutes against a fraction of a second: the test needs no
// tight wall-clock bound (the failover test's old 6 s bound stood in for this on a loaded machine).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { silentLogger } from '../../src/log/logger.js';
import { NatsLink } from '../../src/nats/nats-link.js';
import { createNatsMetrics } from '../../src/nats/nats-metrics.js';
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
