/**
 * Bytes per entry in the JetStream stream (issue 20 §1, NATS part): the same real entries published in
 * the format before chain references (version 1: every message carries the whole record, chain
 * included) and in the current one (version 2: chain certificates once, on their own subjects, by the
 * ingest's own publisher), each into a fresh stream of a real nats-server.
 *
 *   npm run bench:nats-bytes -- [--entries N]
 *
 * The corpus is every real CT entry of the fixtures (RFC 6962 and static-ct-api) whose leaf is unique
 * (leaves de-duplicated by the SHA-256 of their DER), with the chains they came with. By default each is
 * published once (every leaf unique); `--entries N` cycles through the corpus with a new `cert_index`
 * each time (leaves then repeat, which changes no message's size — JetStream stores each message as
 * it is — but spreads the certificates stream over more entries, as a long-running stream does). Reported from the
 * server's own stream state (bytes as JetStream counts them, message overhead included): bytes per
 * entry message, the certificates stream's bytes, and both together per entry. Also the CPU each side
 * pays per entry for it (pure code, no I/O): the ingest's encoding (chain split and hashes) against the
 * version-1 encoding, and the edge's rebuild of the record with its chain put back.
 */
import { createHash } from 'node:crypto';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Registry } from 'prom-client';
import type { CtEntry } from '../src/ct/types.js';
import { silentLogger } from '../src/log/logger.js';
import { JetStreamPublisher } from '../src/nats/jetstream-publisher.js';
import { createNatsMetrics } from '../src/nats/nats-metrics.js';
import { certsStreamName, ensureStream, entriesSubject, messageId } from '../src/nats/stream-setup.js';
import { decodeStreamMessage, encodeStreamMessage, recordWithChain } from '../src/nats/stream-message.js';
import { Renderer } from '../src/render/renderer.js';
import { encodeRecord, type WindowEntry } from '../src/replay/record-codec.js';
import { NatsServer } from '../test/support/nats-server.js';
import { RFC6962_LOG, STATIC_LOG, rfc6962Entries, staticEntries } from '../test/x509/corpus.js';

const { values: opts } = parseArgs({ options: { entries: { type: 'string' } } });

/** The real entries with unique leaves, rendered as the ingest renders them. */
function corpus(): WindowEntry[] {
  const renderer = new Renderer();
  const seen = new Set<string>();
  const out: WindowEntry[] = [];
  for (const [log, entries] of [[RFC6962_LOG, rfc6962Entries()], [STATIC_LOG, staticEntries()]] as const) {
    for (const e of entries as CtEntry[]) {
      const leaf = createHash('sha256').update(e.leaf).digest('hex');
      if (seen.has(leaf)) continue;
      seen.add(leaf);
      const f = renderer.render(log, e, 1_767_225_600 + out.length / 1000);
      out.push({ log: log.url, index: e.index, seen: 1_767_225_600 + out.length / 1000, lite: f.lite, full: f.full, domains: f.domains });
    }
  }
  return out;
}

const base = corpus();
const ENTRIES = opts.entries === undefined ? base.length : Number(opts.entries);
/** The n-th entry published: a corpus entry with its own index (the message id must be new). */
const nth = (n: number): WindowEntry => ({ ...base[n % base.length], log: 'https://bench.example/log/', index: n });

/** Microseconds per call of `f` over the corpus, the best of 5 rounds of 20 passes. */
function perEntryUs(f: (e: WindowEntry) => void): number {
  let best = Infinity;
  for (let round = 0; round < 5; round++) {
    const start = process.hrtime.bigint();
    for (let pass = 0; pass < 20; pass++) for (const e of base) f(e);
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1000 / (20 * base.length));
  }
  return best;
}
const encoded = base.map((e) => encodeStreamMessage(e));
const decoded = encoded.map((m) => ({ message: decodeStreamMessage(m.data)!, elements: m.certs.map((c) => c.text) }));
const cpu = {
  v1: perEntryUs((e) => Buffer.concat([Buffer.from([1]), encodeRecord(e)])),
  v2: perEntryUs((e) => encodeStreamMessage(e)),
  rebuild: (() => {
    let k = 0;
    return perEntryUs(() => {
      const d = decoded[k++ % decoded.length];
      recordWithChain(d.message, d.elements);
    });
  })(),
};

const server = await NatsServer.start();
try {
  const nc = await connect({ servers: server.url });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const limits = (name: string) => ({ name, maxAgeMs: 3_600_000, maxBytes: 4 * 2 ** 30 });

  // Before: version 1, the whole record in every message (what the publisher sent until now).
  await ensureStream(nc, limits('V1'));
  for (let n = 0; n < ENTRIES; n += 256) {
    const batch = [];
    for (let k = n; k < Math.min(ENTRIES, n + 256); k++) {
      const e = nth(k);
      batch.push(js.publish(entriesSubject('V1'), Buffer.concat([Buffer.from([1]), encodeRecord(e)]), { msgID: messageId(e.log, e.index) }));
    }
    await Promise.all(batch);
  }
  // After: the ingest's publisher.
  await ensureStream(nc, limits('V2'));
  const publisher = new JetStreamPublisher({ connection: async () => nc, subject: entriesSubject('V2'), metrics: createNatsMetrics(new Registry()), logger: silentLogger, maxPending: 1 << 30 });
  for (let n = 0; n < ENTRIES; n += 1000) publisher.publish(Array.from({ length: Math.min(1000, ENTRIES - n) }, (_, i) => nth(n + i)));
  await publisher.settled(600_000);
  await publisher.close();

  const v1 = (await jsm.streams.info('V1')).state;
  const v2 = (await jsm.streams.info('V2')).state;
  const certs = (await jsm.streams.info(certsStreamName('V2'))).state;
  const fullBytes = base.reduce((n, e) => n + Buffer.byteLength(e.full), 0) / base.length;
  console.log(`corpus: ${base.length} real entries with unique leaves (full frame ${fullBytes.toFixed(0)} B on average), ${ENTRIES} published to each stream`);
  console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}; ${new Date().toISOString()}`);
  console.log(`before (version 1): ${v1.messages} messages, ${(v1.bytes / v1.messages).toFixed(0)} B per entry`);
  console.log(`after  (version 2): ${v2.messages} messages, ${(v2.bytes / v2.messages).toFixed(0)} B per entry; certificates stream ${certs.messages} messages, ${certs.bytes} B; together ${((v2.bytes + certs.bytes) / v2.messages).toFixed(0)} B per entry`);
  console.log(`saved: ${(100 * (1 - (v2.bytes + certs.bytes) / v1.bytes)).toFixed(1)}% of the stream's bytes`);
  console.log(`CPU per entry: ingest encoding ${cpu.v1.toFixed(1)} µs (version 1) → ${cpu.v2.toFixed(1)} µs (version 2); edge rebuild with the chain put back ${cpu.rebuild.toFixed(1)} µs`);
  await nc.close();
} finally {
  await server.dispose();
}
