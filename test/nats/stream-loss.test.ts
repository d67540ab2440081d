// Issue 18 §3, NATS mode when NATS loses its store (real nats-server, real ingest and edge processes,
// real WebSocket clients):
//  1. nats-server kill -9, its store wiped, restarted on the same port while an ingest and an edge run:
//     both say `degraded` with the reason within 10 s (never ok/connected/no error while delivering
//     nothing), the ingest re-creates the stream and buckets, entries reach the clients again, and the
//     ingest's SIGTERM afterwards exits 0.
//  2. the same with no ingest running, then an ingest started: the stream starts over at seq 1; the edge
//     (still running, expecting a much higher seq) notices the reset, counts it, and re-reads the new
//     stream from its first seq: its clients get every entry of the new stream.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { natsSkip } from '../support/nats-server.js';
import { waitUntil } from '../support/wait-until.js';
import type { NatsNode } from './support/nats-node.js';
import { edgeServing, frames, healthz, natsClient, progress, wipeNats, withNatsWorld, worldFeed, type Healthz, type NatsWorld } from './support/nats-world.js';

/** Entries per second the fake logs grow by while the scenarios run. */
const RATE = 100;

/**
 * The contract's bound: a lost stream is noticed within 10 s. Measured from the moment nats-server
 * accepts connections again; the nodes first reconnect (their backoff restarts at 0.25 s after a short
 * outage) and then check at once, so 10 s + 5 s leaves room for a loaded 2-core machine.
 */
const NOTICE_MS = 15_000;

/** Waits for /healthz `degraded` with a problem naming `what`; returns that body. */
function degradedFor(node: NatsNode, what: RegExp, ms = NOTICE_MS): Promise<Healthz> {
  return waitUntil(`${node.name} /healthz degraded with a problem matching ${what}`, ms, async () => {
    const h = await healthz(node);
    return h?.status === 'degraded' && h.problems.some((p) => what.test(p)) ? h : undefined;
  });
}

/** Waits until every log has grown by `n` since `sizes`. */
function grown(w: NatsWorld, sizes: number[], n: number): Promise<boolean> {
  return waitUntil(`the logs to grow by ${n}`, 30_000, () => w.logs.every((l, i) => w.fake.size(l) >= sizes[i] + n));
}

describe('NATS mode when NATS loses its store', { skip: natsSkip() }, () => {
  it('wiped while an ingest and an edge run: both degraded with the reason, stream and buckets re-created, entries flow again, SIGTERM exits 0', { timeout: 150_000 }, () =>
    withNatsWorld(async (w) => {
      const edge = await w.nodes.start('edge', { role: 'edge', nats: w.nats.url });
      await edgeServing(edge);
      const plain = worldFeed(w, () => edge.ws('/full-stream'));
      const durable = worldFeed(w, () => edge.ws('/full-stream?id=loss&since=0'));
      for (const c of [plain, durable]) await c.until('a connection', 20_000, () => c.connected);
      const ingest = await w.nodes.start('ingest', { role: 'ingest', nats: w.nats.url, logList: w.fake.logListUrl });
      w.fake.grow(RATE);
      for (const c of [plain, durable]) await c.until('the backlog', 60_000, () => w.logs.every((l) => c.received(l).size >= 150), () => progress(w, c));

      // Every /healthz of the edge from the wipe on, until it is degraded: none may say all is well.
      await wipeNats(w);
      const up = Date.now();
      const seenEdge: Healthz[] = [];
      const edgeDegraded = waitUntil('edge /healthz degraded with the stream named', NOTICE_MS, async () => {
        const h = await healthz(edge);
        if (h !== undefined) seenEdge.push(h);
        return h?.status === 'degraded' && h.problems.some((p) => /stream CERTSTREAM/.test(p)) ? h : undefined;
      });
      const [eh, ih] = await Promise.all([edgeDegraded, degradedFor(ingest, /stream CERTSTREAM/)]);
      console.log(`stream loss: edge degraded ${Date.now() - up} ms after NATS was back: ${JSON.stringify(eh.problems)}; ingest: ${JSON.stringify(ih.problems)}`);
      for (const h of seenEdge) {
        if (h.status === 'ok') assert.ok(h.nats?.connected !== true || h.nats.last_error !== null, `edge said ok, connected, no error after the wipe: ${JSON.stringify(h)}`);
      }
      assert.ok(eh.nats?.last_error, 'the edge names a reason in nats.last_error');

      // The ingest re-created the stream and both buckets, with the configured replicas (1 here).
      const jsm = await jetstreamManager(await natsClient(w));
      const info = await waitUntil('the stream and buckets to exist again', NOTICE_MS, async () => {
        try {
          return await Promise.all(['CERTSTREAM', 'KV_CERTSTREAM_cursors', 'KV_CERTSTREAM_positions'].map((s) => jsm.streams.info(s)));
        } catch {
          return undefined;
        }
      });
      for (const i of info) assert.equal(i.config.num_replicas, 1, `${i.config.name} replicas`);
      assert.ok((await ingest.metric('certstream_nats_streams_lost_total')) >= 2, 'the ingest counted the stream and its bucket lost');

      // Entries appended after the wipe reach both clients, which stayed connected.
      const sizes = w.logs.map((l) => w.fake.size(l));
      await grown(w, sizes, 50);
      for (const [name, c] of [['plain', plain], ['durable', durable]] as const) {
        await c.until(`the ${name} client to get entries appended after the wipe`, 60_000, () => w.logs.every((l, i) => Math.max(-1, ...c.received(l)) >= sizes[i] + 40), () => progress(w, c));
        assert.equal(c.closes, 0, `${name} client stayed connected`);
        assert.ok(c.increasingPerConnection(), `${name} client: strictly increasing per log`);
      }
      w.fake.grow(0);
      // The ingest stops cleanly: its cursors are saved to the re-created bucket.
      const how = await ingest.stop();
      if (how !== 0) console.log(ingest.lines.filter((l) => l.level !== 'debug').map((l) => JSON.stringify(l)).join('\n'));
      assert.equal(how, 0, `ingest SIGTERM exit status${ingest.tail()}`);
    }));

  it('re-created at seq 1 by a new ingest: the edge notices the reset, counts it and re-reads the stream from its first seq', { timeout: 150_000 }, () =>
    withNatsWorld(async (w) => {
      const edge = await w.nodes.start('edge', { role: 'edge', nats: w.nats.url });
      await edgeServing(edge);
      const plain = worldFeed(w, () => edge.ws('/full-stream'));
      const durable = worldFeed(w, () => edge.ws('/full-stream?id=reset&since=0'));
      for (const c of [plain, durable]) await c.until('a connection', 20_000, () => c.connected);
      const first = await w.nodes.start('ingest-1', { role: 'ingest', nats: w.nats.url, logList: w.fake.logListUrl });
      for (const c of [plain, durable]) await c.until('every entry', 60_000, () => w.logs.every((l) => c.received(l).size === w.fake.size(l)), () => progress(w, c));
      assert.equal(await first.stop(), 0, 'first ingest SIGTERM');
      const oldLast = (await edgeServing(edge)).nats!.delivered_seq!;

      // NATS loses everything while no ingest runs: the edge says so, and that it waits for an ingest.
      await wipeNats(w);
      const h = await degradedFor(edge, /stream CERTSTREAM is missing.*waiting for an ingest/);
      assert.equal(h.nats?.connected, true, 'connected to NATS, yet degraded');

      // A new ingest creates the stream anew, at seq 1. Its cursors are the logs' sizes (the operator
      // restored them), so the new stream holds only new entries, every one of them for the clients.
      const nc = await natsClient(w);
      const cursors = await new Kvm(nc).create('CERTSTREAM_cursors', { history: 1, storage: 'file' });
      const restored = w.logs.map((l) => w.fake.size(l));
      for (const [i, l] of w.logs.entries()) await cursors.put(Buffer.from(l).toString('base64url'), String(restored[i]));
      const before = { plain: frames(plain), durable: frames(durable) };
      const lines = edge.lines.length;
      const second = await w.nodes.start('ingest-2', { role: 'ingest', nats: w.nats.url, logList: w.fake.logListUrl });
      w.fake.grow(RATE);
      await grown(w, w.logs.map((l) => w.fake.size(l)), 60);
      w.fake.grow(0);
      // Everything the new ingest stored reaches both clients (the stream's seqs 1..n, all below the seq the
      // edge expected next).
      const added = w.logs.reduce((n, l, i) => n + w.fake.size(l) - restored[i], 0);
      const jsm = await jetstreamManager(nc);
      const state = await waitUntil(`the new stream to hold the ${added} new entries`, 60_000, async () => {
        const st = (await jsm.streams.info('CERTSTREAM')).state;
        return st.messages === added ? st : undefined;
      });
      assert.equal(state.first_seq, 1, 'the new stream starts at seq 1');
      assert.ok(state.last_seq < oldLast, `the new stream's seqs (1-${state.last_seq}) are all below those the edge delivered before (up to ${oldLast})`);
      for (const [name, c] of [['plain', plain], ['durable', durable]] as const) {
        await c.until(`the ${name} client to get all ${added} entries of the new stream`, 60_000, () => frames(c) - before[name] >= state.last_seq, () => `${frames(c) - before[name]} of ${state.last_seq}`);
        assert.equal(frames(c) - before[name], state.last_seq, `${name} client: each entry of the new stream once`);
        assert.equal(c.closes, 0, `${name} client stayed connected`);
        assert.ok(c.increasingPerConnection(), `${name} client: strictly increasing per log`);
      }
      assert.equal(await edge.metric('certstream_nats_stream_resets_total'), 1, 'the edge counted one reset');
      const line = await edge.waitLine('the edge to log the reset', 10_000, (l) => l.msg === 'jetstream stream reset: re-reading it from its first sequence', lines);
      assert.equal(line.undelivered, 0, 'the edge had delivered everything of the old stream');
      assert.equal(await second.stop(), 0, 'second ingest SIGTERM');
    }));
});
