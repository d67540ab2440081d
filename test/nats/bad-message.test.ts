// Issue 18 §3: a message in the stream that is not an entry (another publisher on the subject, a future
// format) must not wedge a durable client. Before, the live tail skipped it but a replay framed it, failed,
// closed the client with 1011, and the client's reconnect read the same message again, forever.
// Real nats-server, a real ingest and edge, a real reconnecting WebSocket client.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { MESSAGE_VERSION } from '../../src/nats/stream-message.js';
import { natsSkip } from '../support/nats-server.js';
import { waitUntil } from '../support/wait-until.js';
import { edgeServing, natsClient, progress, withNatsWorld, worldFeed, type NatsWorld } from './support/nats-world.js';

function total(w: NatsWorld): number {
  return w.logs.reduce((n, l) => n + w.fake.size(l), 0);
}

describe('a stream message that is not an entry', { skip: natsSkip() }, () => {
  it('is skipped and counted by a replay: the durable client gets every entry on one connection', { timeout: 120_000 }, () =>
    withNatsWorld(async (w) => {
      const nc = await natsClient(w);
      const jsm = await jetstreamManager(nc);
      const ingest = await w.nodes.start('ingest', { role: 'ingest', nats: w.nats.url, logList: w.fake.logListUrl });
      const stored = (n: number) => waitUntil(`the stream to hold ${n} messages`, 60_000, async () => {
        try {
          return (await jsm.streams.info('CERTSTREAM')).state.messages === n;
        } catch {
          return false;
        }
      });
      await stored(total(w));
      // Entries carry the format's version byte.
      const firstMessage = await jsm.streams.getMessage('CERTSTREAM', { seq: 1 });
      assert.equal(firstMessage?.data[0], MESSAGE_VERSION, 'a stored entry starts with the version byte');

      // A foreign message in the middle of the stream, entries before and after it.
      const ack = await jetstream(nc).publish('CERTSTREAM.entries', 'not an entry');
      w.fake.append(40);
      await stored(total(w) + 1);
      assert.equal(await ingest.stop(), 0);

      // An edge started now holds nothing in memory: a since=0 client replays all of it from the stream.
      const edge = await w.nodes.start('edge', { role: 'edge', nats: w.nats.url });
      await edgeServing(edge);
      const client = worldFeed(w, () => edge.ws('/full-stream?id=bad-message&since=0'), true);
      await client.until('every entry', 60_000, () => w.logs.every((l) => client.received(l).size === w.fake.size(l)), () => `${progress(w, client)}, ${client.connections.length} connections`);
      assert.equal(client.closes, 0, 'the client was never closed (1011 and a reconnect loop before)');
      assert.equal(client.connections.length, 1);
      for (const l of w.logs) assert.equal(client.repeats(l), 0, `${l}: each entry once`);
      assert.ok(client.increasingPerConnection());
      assert.equal(await edge.metric('certstream_nats_skipped_messages_total', 'path="replay"'), 1, `the edge counted the message at seq ${ack.seq} it skipped`);
    }));
});
