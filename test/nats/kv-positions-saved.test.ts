// The durable positions in the NATS key-value bucket, through the saved-positions shell, against a real
// nats-server: what one edge saves another learns, and client-chosen names are plain keys.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '@nats-io/transport-node';
import { silentLogger } from '../../src/log/logger.js';
import { KvPositions } from '../../src/nats/kv-positions.js';
import { ensureStream, openBucket } from '../../src/nats/stream-setup.js';
import { NatsServer, natsSkip } from '../support/nats-server.js';
import { waitUntil } from '../support/wait-until.js';

const skip = natsSkip();

test('one edge saves, the other learns; client-chosen names are plain keys', { skip, timeout: 60_000 }, async (t) => {
  const server = await NatsServer.start();
  t.after(() => server.dispose());
  const nc = await connect({ servers: server.url });
  t.after(async () => void (await nc.close()));
  await ensureStream(nc, { name: 'T', maxAgeMs: 600_000, maxBytes: 1 << 30 });
  const kv = await openBucket(nc, 'T', 'positions');
  const open = () => KvPositions.open({ kv, bucketName: 'T_positions', flushMs: 3_600_000, logger: silentLogger });
  const a = await open();
  const b = await open();
  const names = ['__proto__', 'constructor', 'toString', 'client-1'];
  names.forEach((name, i) => a.set(name, 'full', 10 + i));
  a.set('client-1', 'lite', 7);
  assert.equal(a.size, 5);
  assert.equal(a.get('__proto__', 'full'), 10);
  assert.equal(a.get('hasOwnProperty', 'full'), undefined);
  await a.close();
  await waitUntil("b learns a's positions", 10_000, () => b.size === 5);
  names.forEach((name, i) => assert.equal(b.get(name, 'full'), 10 + i, name));
  assert.equal(b.get('client-1', 'lite'), 7);
  assert.equal(({} as Record<string, unknown>).constructor, Object, 'Object.prototype untouched');

  // A takeover: b confirms further, a restarted edge resumes from there.
  b.set('__proto__', 'full', 99);
  await b.close();
  const c = await open();
  assert.equal(c.get('__proto__', 'full'), 99);
  assert.equal(c.get('constructor', 'full'), 11);
  await c.close();
});
