// Issue 18 §3: an ingest node down for longer than JetStream's duplicate window (two minutes) resumes from
// a cursor up to a flush period old. JetStream has forgotten the message ids of the entries after that
// cursor, so before, it stored them a second time, and a durable client replaying the stream saw those
// indexes twice within one connection. Now the node reads what the stream holds at its end when it
// starts and does not publish it again.
//
// The two minutes are not waited out: the test shortens the stream's duplicate window while no ingest
// runs, and waits (on a probe message's id) until JetStream has forgotten the ids; the restarted node
// sets the window back. The cursor "a flush period old" is written back by the test, 30 entries per log.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { nanos } from '@nats-io/transport-node';
import { natsSkip } from '../support/nats-server.js';
import { waitUntil } from '../support/wait-until.js';
import { edgeServing, natsClient, progress, withNatsWorld, worldFeed, type NatsWorld } from './support/nats-world.js';

const BEHIND = 30;

function total(w: NatsWorld): number {
  return w.logs.reduce((n, l) => n + w.fake.size(l), 0);
}

describe('an ingest node down longer than the duplicate window', { skip: natsSkip() }, () => {
  it('does not store again what the stream holds: no index twice in the stream or in a replay', { timeout: 150_000 }, () =>
    withNatsWorld(async (w) => {
      const nc = await natsClient(w);
      const jsm = await jetstreamManager(nc);
      const js = jetstream(nc);
      const messages = async () => (await jsm.streams.info('CERTSTREAM')).state.messages;
      const first = await w.nodes.start('ingest-1', { role: 'ingest', nats: w.nats.url, logList: w.fake.logListUrl });
      await waitUntil('the stream to hold every entry', 60_000, async () => (await messages().catch(() => -1)) === total(w));
      await first.kill();

      // The outage outlasts the duplicate window: JetStream forgets the ids. A probe published now is
      // newer than every entry; once its id is forgotten (a resend is stored, not reported a duplicate),
      // so are theirs.
      const info = await jsm.streams.info('CERTSTREAM');
      await jsm.streams.update('CERTSTREAM', { ...info.config, duplicate_window: nanos(500) });
      await js.publish('CERTSTREAM.entries', 'probe', { msgID: 'probe' });
      await waitUntil('JetStream to forget the message ids', 30_000, async () => !(await js.publish('CERTSTREAM.entries', 'probe', { msgID: 'probe' })).duplicate);
      const probes = 2;

      // The cluster's cursors, as a kill -9 leaves them: up to a flush period behind what was stored.
      const cursors = await new Kvm(nc).open('CERTSTREAM_cursors');
      for (const l of w.logs) await cursors.put(Buffer.from(l).toString('base64url'), String(w.fake.size(l) - BEHIND));
      const second = await w.nodes.start('ingest-2', { role: 'ingest', nats: w.nats.url, logList: w.fake.logListUrl });
      w.fake.append(20);
      await waitUntil('the new entries in the stream', 60_000, async () => (await messages()) >= total(w) + probes);
      await waitUntil('the restarted node to catch up', 30_000, async () => (await second.metric('certstream_nats_already_stored_total')) + (await second.metric('certstream_nats_published_total')) >= BEHIND * w.logs.length + 20 * w.logs.length);
      assert.equal(await messages(), total(w) + probes, 'the stream holds each entry once (and the two probes)');
      assert.equal(await second.metric('certstream_nats_already_stored_total'), BEHIND * w.logs.length, 'the entries behind the cursor were found in the stream and not published');

      // A durable client replaying the whole stream gets each index once, in order.
      const edge = await w.nodes.start('edge', { role: 'edge', nats: w.nats.url });
      await edgeServing(edge);
      // It reconnects as durable clients do (a replay read that fails under load closes it with 1011):
      // what must hold is within each connection.
      const client = worldFeed(w, () => edge.ws('/full-stream?id=long-outage&since=0'), true);
      await client.until('every entry', 60_000, () => w.logs.every((l) => client.received(l).size === w.fake.size(l)), () => `${progress(w, client)}; ${client.connections.length} connections${edge.tail()}`);
      assert.ok(client.increasingPerConnection(), 'each index at most once, in order, within every connection');
      if (client.connections.length === 1) for (const l of w.logs) assert.equal(client.repeats(l), 0, `${l}: each index once`);
    }));
});
