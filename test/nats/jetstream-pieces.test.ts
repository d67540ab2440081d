// The JetStream pieces on their own, against a real nats-server: the publisher's message ids and peer
// skipping, the key-value cursors that only move forward, and the window's reads from the stream
// (older than its memory) and by time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../src/log/logger.js';
import { JetStreamPublisher } from '../../src/nats/jetstream-publisher.js';
import { JetStreamWindow } from '../../src/nats/jetstream-window.js';
import { KvCursorStore } from '../../src/nats/kv-cursor-store.js';
import { entriesSubject, openBucket } from '../../src/nats/stream-setup.js';
import type { StreamFrames } from '../../src/stream/fanout-hub.js';
import { natsSkip } from '../support/nats-server.js';
import { streamFixture } from './support/stream-fixture.js';
import { waitUntil } from '../support/wait-until.js';

const skip = natsSkip();
const LOG = 'https://ct.example/log/';

function entry(index: number, seen = 1_767_225_600 + index): StreamFrames {
  const full = JSON.stringify({ message_type: 'certificate_update', data: { cert_index: index, source: { url: LOG }, leaf_cert: { as_der: 'QUJD'.repeat(50 + (index % 7)) }, chain: [{ as_der: 'REVG'.repeat(40) }] } });
  const lite = JSON.stringify({ message_type: 'certificate_update', data: { cert_index: index, source: { url: LOG } } });
  return { full, lite, domains: JSON.stringify({ message_type: 'dns_entries', data: [`n${index}.example`] }), log: LOG, index, seen };
}


test('two publishers of the same entries store each once; entries below the cluster cursor are not sent', { skip }, async (t) => {
  const { nc, metrics } = await streamFixture(t);
  const publisher = (cluster?: number) =>
    new JetStreamPublisher({ connection: async () => nc, subject: entriesSubject('T'), metrics, logger: silentLogger, clusterCursor: () => cluster });
  const a = publisher();
  const b = publisher(40);
  const frames = Array.from({ length: 100 }, (_, i) => entry(i));
  a.publish(frames);
  b.publish(frames);
  await Promise.all([a.settled(), b.settled()]);
  const stored = await metrics.published.get();
  const count = (result: string) => stored.values.find((v) => v.labels.result === result)?.value ?? 0;
  assert.equal(count('stored'), 100, 'each entry stored once');
  assert.equal(count('duplicate'), 60, 'the second publisher sent only the 60 entries at or past the cluster cursor');
  assert.equal((await metrics.peerSkipped.get()).values[0].value, 40);
  await a.close();
  await b.close();
});

test('key-value cursors: a restarted node starts where the cluster stopped; a cursor never moves back', { skip }, async (t) => {
  const { nc } = await streamFixture(t);
  const kv = await openBucket(nc, 'T', 'cursors');
  const store = () => new KvCursorStore({ bucket: async () => kv, bucketName: 'T_cursors', flushMs: 60_000, logger: silentLogger });
  const a = store();
  const b = store();
  await a.load();
  await b.load();
  assert.equal(a.get(LOG), undefined);
  a.set(LOG, 500);
  await a.flush();
  await waitUntil("b sees a's cursor", 5000, () => b.clusterCursor(LOG) === 500);
  // b is behind (it saw fewer entries) and saves 300: the cluster keeps 500.
  b.set(LOG, 300);
  await b.flush();
  const c = store();
  await c.load();
  assert.equal(c.get(LOG), 500, 'a new node continues from the furthest saved cursor');
  b.set(LOG, 700);
  await b.flush();
  await waitUntil("a sees b's newer cursor", 5000, () => a.clusterCursor(LOG) === 700);
  for (const s of [a, b, c]) await s.close();
});

/** Resolves once the wall clock is past `ms` (epoch ms): a clock event, so that publish times order. */
async function clockPast(ms: number): Promise<void> {
  while (Date.now() <= ms) await new Promise((resolve) => setTimeout(resolve, Math.max(1, ms + 1 - Date.now())));
}

test('the window reads from the stream past its memory, in order, and finds positions by time', { skip }, async (t) => {
  const { nc, metrics } = await streamFixture(t);
  const p = new JetStreamPublisher({ connection: async () => nc, subject: entriesSubject('T'), metrics, logger: silentLogger });
  // Three runs whose times do not overlap: each run's `seen` is taken before it is published (as the
  // ingest does), and each run is published only once the clock is past the previous one's
  // acknowledgements. The stream's timestamps are JetStream's publish times (ms precision in the
  // lookup), so a time between two runs has exactly one right answer.
  const seen1 = Date.now() / 1000;
  p.publish(Array.from({ length: 100 }, (_, i) => entry(i, seen1)));
  await p.settled();
  const mark1 = Date.now() + 1; // after every publish time of the first run
  await clockPast(mark1);
  p.publish(Array.from({ length: 200 }, (_, i) => entry(100 + i, mark1 / 1000)));
  await p.settled();
  const got: StreamFrames[] = [];
  const holder: { window?: JetStreamWindow } = {};
  const window = await JetStreamWindow.open({
    nc,
    stream: 'T',
    metrics,
    logger: silentLogger,
    cacheBytes: 16 * 1024,
    onEntries: (frames) => {
      got.push(...frames);
      holder.window!.append(frames.map((f) => ({ ...f, log: f.log!, index: f.index!, seen: f.seen! })));
    },
  });
  holder.window = window;
  t.after(() => window.close());
  assert.equal(window.nextSeq, 301, 'the tail starts at the end of the stream');
  // The third run (seqs 301-500) is the one the window keeps in memory. Its `seen` times are distinct
  // (1 ms apart) and lie in the 0.2 s before it is published, which is more than 0.5 s after the second
  // run's last publish time: the memory answers for seen times, the stream for publish times.
  const mark2 = Date.now() + 1;
  await clockPast(mark2 + 700);
  const publishedAt = Date.now();
  const seen3 = (i: number) => (publishedAt - 200 + i) / 1000;
  p.publish(Array.from({ length: 200 }, (_, i) => entry(300 + i, seen3(i))));
  await p.settled();
  await waitUntil('the tail handed on the new entries', 10_000, () => window.nextSeq === 501);
  assert.deepEqual(got.map((f) => f.index), Array.from({ length: 200 }, (_, i) => 300 + i));
  assert.equal(got[5].full, entry(305).full, 'frames come back byte for byte');
  assert.equal(got[5].lite, entry(305).lite);

  // Everything from seq 1, in reads of at most 20 KB: the early ones come from the stream.
  const full: string[] = [];
  for (let seq = 1; seq < window.nextSeq; ) {
    const r = await window.read('full', seq, 20 * 1024);
    assert.equal(r.first, seq);
    for (const p of r.batch.payloads) full.push(p.toString('utf8'));
    seq = r.first + r.batch.ends.length;
  }
  assert.equal(full.length, 500);
  full.forEach((f, i) => assert.equal(f, entry(i).full, `seq ${i + 1}`));

  // By time, from the stream (older than the memory): the start, and each boundary between runs.
  assert.equal(await window.seqAtTime(0), 1, 'since before everything starts at the first seq');
  assert.equal(await window.seqAtTime(seen1 - 0.001), 1);
  assert.equal(await window.seqAtTime(mark1 / 1000), 101, 'since between the first and second runs: the second run');
  assert.equal(await window.seqAtTime((mark2 + 300) / 1000), 301, 'since between the second and third runs: the third run');
  // From the memory: an entry's exact seen time is its seq; a time between two entries is the later one.
  assert.equal(await window.seqAtTime(seen3(195)), 496, 'since at entry 495 seen');
  assert.equal(await window.seqAtTime(seen3(195) - 0.0005), 496, 'since between entries 494 and 495');
  assert.equal(await window.seqAtTime(seen3(199)), 500, 'since at the last entry seen');
  assert.equal(await window.seqAtTime(seen3(199) + 0.0005), 501, 'since after the last entry seen: the head');
  assert.equal(await window.seqAtTime(Date.now() / 1000 + 3600), 501, 'since in the future starts at the head');
  await p.close();
});
