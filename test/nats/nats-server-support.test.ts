// test/support/nats-server.ts is what every NATS test stands on: check that stop() and start() really
// keep the port and the JetStream store (the failover test relies on it), that kill() ends the server, and
// that dispose() removes the store. A second or so against the real binary.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { describe, it } from 'node:test';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { NatsServer, natsSkip } from '../support/nats-server.js';

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/** Messages stored in `stream`, through a fresh connection (closed again). */
async function storedMessages(url: string, stream: string): Promise<number> {
  const nc = await connect({ servers: url, timeout: 5000 });
  try {
    const jsm = await jetstreamManager(nc, { timeout: 5000 });
    return (await jsm.streams.info(stream)).state.messages;
  } finally {
    await nc.close();
  }
}

describe('test support: NatsServer', { skip: natsSkip(), timeout: 60_000 }, () => {
  it('keeps port and store across stop/start, kill ends it, dispose removes the store', async () => {
    const server = await NatsServer.start();
    try {
      assert.equal(server.url, `nats://127.0.0.1:${server.port}`);
      const nc = await connect({ servers: server.url, timeout: 5000 });
      try {
        const jsm = await jetstreamManager(nc, { timeout: 5000 });
        await jsm.streams.add({ name: 'SUPPORT', subjects: ['support.>'] });
        const js = jetstream(nc, { timeout: 5000 });
        await js.publish('support.a', 'one', { msgID: 'a#1' });
        await js.publish('support.a', 'two', { msgID: 'a#2' });
      } finally {
        await nc.close();
      }

      await server.stop();
      assert.equal(await portOpen(server.port), false, 'port closed after stop()');
      await server.start();
      assert.equal(await storedMessages(server.url, 'SUPPORT'), 2, 'the stream survived stop/start on the same store and port');

      await server.kill();
      assert.equal(await portOpen(server.port), false, 'port closed after kill()');
      await server.start();
      assert.equal(await storedMessages(server.url, 'SUPPORT'), 2, 'acknowledged messages survive a SIGKILL');
    } finally {
      await server.dispose();
    }
    assert.equal(existsSync(server.storeDir), false, 'dispose() removed the store');
  });
});
