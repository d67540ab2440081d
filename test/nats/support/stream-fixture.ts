/**
 * A real nats-server with the stream `T` (and its certificates stream) created, a connection to it and
 * fresh NATS metrics: what the tests of the JetStream pieces on their own start from. Everything is
 * ended after the test.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Registry } from 'prom-client';
import { createNatsMetrics, type NatsMetrics } from '../../../src/nats/nats-metrics.js';
import { ensureStream } from '../../../src/nats/stream-setup.js';
import { NatsServer } from '../../support/nats-server.js';

export async function streamFixture(t: { after(fn: () => Promise<void>): void }): Promise<{ server: NatsServer; nc: NatsConnection; metrics: NatsMetrics }> {
  const server = await NatsServer.start();
  t.after(() => server.dispose());
  const nc = await connect({ servers: server.url });
  t.after(async () => void (await nc.close()));
  await ensureStream(nc, { name: 'T', maxAgeMs: 600_000, maxBytes: 1 << 30 });
  return { server, nc, metrics: createNatsMetrics(new Registry()) };
}
