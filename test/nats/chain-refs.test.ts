// Chain certificates published once (src/nats/stream-message.ts, cert-resolver.ts), against a real
// nats-server with real rendered entries: the edge rebuilds every frame byte for byte from the entry
// messages and the certificates stream; the certificates stream holds each distinct certificate once;
// a reference that cannot be resolved never yields a frame, it is counted and the tail goes on; a
// certificate the ingest publishes again comes back; messages of the format before references still read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Registry } from 'prom-client';
import { silentLogger } from '../../src/log/logger.js';
import { JetStreamPublisher } from '../../src/nats/jetstream-publisher.js';
import { JetStreamWindow } from '../../src/nats/jetstream-window.js';
import { createNatsMetrics, type NatsMetrics } from '../../src/nats/nats-metrics.js';
import { splitChain } from '../../src/nats/chain-split.js';
import { certHash } from '../../src/nats/stream-message.js';
import { certsStreamName, certSubject, entriesSubject } from '../../src/nats/stream-setup.js';
import { Renderer } from '../../src/render/renderer.js';
import { encodeRecord } from '../../src/replay/record-codec.js';
import type { StreamFrames } from '../../src/stream/fanout-hub.js';
import { STATIC_LOG, staticEntries } from '../x509/corpus.js';
import { natsSkip } from '../support/nats-server.js';
import { streamFixture } from './support/stream-fixture.js';
import { waitUntil } from '../support/wait-until.js';

const skip = natsSkip();

/** Real static-ct-api entries rendered by the Renderer, indexes from `from`. */
function rendered(count: number, from = 0): StreamFrames[] {
  const r = new Renderer();
  const corpus = staticEntries();
  return Array.from({ length: count }, (_, i) => {
    const index = from + i;
    const seen = 1_767_225_600 + index / 1000;
    const f = r.render(STATIC_LOG, { ...corpus[index % corpus.length], index }, seen);
    // With the renderer's parts, as the ingest publishes them (the chain found without a scan).
    return { lite: f.lite, full: f.full, domains: f.domains, log: STATIC_LOG.url, index, seen, parts: f.parts };
  });
}


async function openWindow(t: { after(fn: () => Promise<void>): void }, nc: NatsConnection, metrics: NatsMetrics) {
  const got: StreamFrames[] = [];
  const holder: { window?: JetStreamWindow } = {};
  const window = await JetStreamWindow.open({
    nc, stream: 'T', metrics, logger: silentLogger, cacheBytes: 64 * 1024,
    onEntries: (frames) => {
      got.push(...frames);
      holder.window!.append(frames.map((f) => ({ ...f, log: f.log!, index: f.index!, seen: f.seen! })));
    },
  });
  holder.window = window;
  t.after(() => window.close());
  return { window, got };
}

async function counter(c: { get(): Promise<{ values: { labels: Record<string, unknown>; value: number }[] }> }, label?: [string, string]): Promise<number> {
  const values = (await c.get()).values;
  return values.find((v) => label === undefined || v.labels[label[0]] === label[1])?.value ?? 0;
}

test('the edge rebuilds every frame byte for byte; each distinct chain certificate is stored once', { skip }, async (t) => {
  const { nc, metrics } = await streamFixture(t);
  const { window, got } = await openWindow(t, nc, metrics);
  const frames = rendered(400);
  const a = new JetStreamPublisher({ connection: async () => nc, subject: entriesSubject('T'), metrics, logger: silentLogger });
  const b = new JetStreamPublisher({ connection: async () => nc, subject: entriesSubject('T'), metrics, logger: silentLogger });
  a.publish(frames);
  b.publish(frames);
  await Promise.all([a.settled(), b.settled()]);
  await waitUntil('the tail handed on every entry', 10_000, () => got.length === 400 && got);
  got.forEach((f, i) => {
    assert.equal(f.full, frames[i].full, `entry ${i}: full frame byte for byte`);
    assert.equal(f.lite, frames[i].lite);
    assert.equal(f.domains, frames[i].domains);
  });

  const distinct = new Set(frames.flatMap((f) => splitChain(f.full).elements.map(certHash)));
  assert.ok(distinct.size > 0 && distinct.size < 20, `a few distinct chain certificates (${distinct.size})`);
  const jsm = await jetstreamManager(nc);
  const certs = await jsm.streams.info(certsStreamName('T'));
  assert.equal(certs.state.messages, distinct.size, 'one message per distinct certificate');
  assert.equal(await counter(metrics.certsPublished), 2 * distinct.size, 'each node published each certificate once');
  const entries = await jsm.streams.info('T');
  const chainBytes = frames.reduce((n, f) => n + splitChain(f.full).elements.reduce((m, e) => m + e.length, 0), 0);
  assert.ok(entries.state.bytes < frames.reduce((n, f) => n + encodeRecord({ ...f, log: f.log!, index: f.index!, seen: f.seen! }).length, 0) - chainBytes + 400 * 200, 'the entries stream does not hold the chains');

  // Replays from the stream (older than the window's memory) rebuild the same frames.
  const replayed: string[] = [];
  for (let seq = 1; seq < window.nextSeq; ) {
    const r = await window.read('full', seq, 64 * 1024);
    for (const p of r.batch.payloads) replayed.push(p.toString('utf8'));
    seq = r.first + r.batch.ends.length;
  }
  assert.deepEqual(replayed, frames.map((f) => f.full));
  assert.equal(await counter(metrics.skippedMessages, ['path', 'unresolved']), 0);
  await a.close();
  await b.close();
});

test('a certificate that cannot be had loses its entries, counted, never a wrong frame; one published again resolves', { skip }, async (t) => {
  const { nc, metrics } = await streamFixture(t);
  let clock = Date.now();
  const refreshMs = 60_000;
  const p = new JetStreamPublisher({ connection: async () => nc, subject: entriesSubject('T'), metrics, logger: silentLogger, certRefreshMs: refreshMs, now: () => clock });
  const first = rendered(1);
  p.publish(first);
  await p.settled();
  // The certificate's copy is replaced by one that differs (damage, another writer on the subject); this
  // publisher remembers having published it, so it does not publish it again.
  const element = splitChain(first[0].full).elements[0];
  const hash = certHash(element);
  await jetstream(nc).publish(certSubject('T', hash), Buffer.from(element.replace('"as_der":"M', '"as_der":"N')));
  const jsm = await jetstreamManager(nc);
  assert.equal((await jsm.streams.info(certsStreamName('T'))).state.messages, splitChain(first[0].full).elements.length, 'the copy was replaced');
  const { got } = await openWindow(t, nc, metrics);
  const next = rendered(200, 1).filter((f) => f.full.includes(element)).slice(0, 3);
  assert.equal(next.length, 3, 'entries that refer to the certificate');
  p.publish(next);
  await p.settled();
  await waitUntil('the unresolved entries were counted', 10_000, async () => (await counter(metrics.skippedMessages, ['path', 'unresolved'])) === 3);
  assert.equal(got.length, 0, 'no frame for an entry whose chain is missing');
  assert.ok((await counter(metrics.tailGaps)) >= 3, 'counted as lost by the tail');
  assert.ok((await counter(metrics.certFetches, ['result', 'missing'])) >= 1);

  // A replay from the stream (a window opened now reads every seq from it) skips them too, counted.
  const replayMetrics = createNatsMetrics(new Registry());
  const { window: replaying } = await openWindow(t, nc, replayMetrics);
  const r = await replaying.read('full', 1, 1 << 20);
  assert.equal(r.next, 5, 'the replay went past all four entries (the first refers to the certificate too)');
  assert.equal(r.batch.payloads.length, 0, 'and yielded no frame');
  assert.equal(await counter(replayMetrics.skippedMessages, ['path', 'unresolved']), 4, 'counted');

  // Past its refresh time the publisher publishes the certificate again: the entries after it resolve.
  clock += refreshMs;
  const later = rendered(200, 201).filter((f) => f.full.includes(element)).slice(0, 2);
  p.publish(later);
  await p.settled();
  await waitUntil('the tail handed on the entries after the certificate came back', 10_000, () => got.length === 2);
  assert.deepEqual(got.map((f) => f.index), later.map((f) => f.index));
  assert.ok(got.every((f, i) => f.full === later[i].full), 'byte for byte');
  await p.close();
});

test('a message of the format before references (version 1) is still read', { skip }, async (t) => {
  const { nc, metrics } = await streamFixture(t);
  const { got } = await openWindow(t, nc, metrics);
  const [f] = rendered(1);
  const record = encodeRecord({ ...f, log: f.log!, index: f.index!, seen: f.seen! });
  await jetstream(nc).publish(entriesSubject('T'), Buffer.concat([Buffer.from([1]), record]));
  await waitUntil('the tail handed on the old-format entry', 10_000, () => got.length === 1);
  assert.equal(got[0].full, f.full);
});
