import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CtEntry, LogDescriptor } from '../../src/ct/types.js';
import { CertstreamError } from '../../src/errors.js';
import { createLogger } from '../../src/log/logger.js';
import { createServerMetrics } from '../../src/metrics/server-metrics.js';
import { Renderer } from '../../src/render/renderer.js';
import { isCompact } from '../../src/replay/compact-record.js';
import { LocalReplayWindow, REPLAY_DIR } from '../../src/replay/local-replay-window.js';
import { PositionStore } from '../../src/stream/durable-positions.js';
import { FanoutHub } from '../../src/stream/fanout-hub.js';
import { IngestSink } from '../../src/stream/ingest-sink.js';
import { RFC6962_LOG, rfc6962Entries } from '../x509/corpus.js';
import { metricValue, testHubOptions } from './hub-harness.js';

const LOG: LogDescriptor = {
  kind: 'rfc6962',
  url: 'https://ct.example/log/',
  name: 'Example log',
  operator: 'Example',
  logId: 'AAAA',
  monitoringUrl: 'https://ct.example/log/',
  state: 'usable',
};
const OTHER: LogDescriptor = { ...LOG, url: 'https://ct.example/other/', monitoringUrl: 'https://ct.example/other/' };

const der = new Uint8Array(readFileSync(join(import.meta.dirname, '../fixtures/calidog-golden/certs/github.com.der')));
const garbage = new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x05]);

function entry(index: number, leaf: Uint8Array, type: CtEntry['type'] = 'x509'): CtEntry {
  return { index, timestamp: 1_700_000_000_000, type, leaf, chain: [] };
}

async function setup(t: { after(fn: () => Promise<void>): void }, clock = { now: 1_800_000_000_000 }) {
  const metrics = createServerMetrics({ processMetrics: false });
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) });
  const hub = new FanoutHub(testHubOptions({ metrics, logger }));
  t.after(() => hub.close());
  const sink = new IngestSink({ renderer: new Renderer(), hub, metrics, logger, window: 16, now: () => clock.now });
  const skippedLines = () => lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('entry skipped'));
  return { metrics, hub, sink, lines, skippedLines, clock };
}

test('renders, counts by update type and publishes; a non-certificate is counted as parse and skipped', { timeout: 60_000 }, async (t) => {
  const { metrics, hub, sink, skippedLines } = await setup(t);
  sink.accept(LOG, [entry(10, der), entry(11, garbage), entry(12, der, 'precert'), entry(13, new Uint8Array([1, 2, 3]))]);
  sink.accept(LOG, [entry(14, garbage)]);

  assert.equal(await metricValue(metrics, 'certstream_log_errors_total', { log: LOG.url, kind: 'parse' }), 3);
  assert.equal(await metricValue(metrics, 'certstream_entries_total', { log: LOG.url, update_type: 'X509LogEntry' }), 1);
  assert.equal(await metricValue(metrics, 'certstream_entries_total', { log: LOG.url, update_type: 'PrecertLogEntry' }), 1);
  const skipped = skippedLines();
  assert.equal(skipped.length, 1, 'one line within the interval');
  assert.equal(skipped[0].cert_index, 11);
  assert.equal(skipped[0].level, 'warn');
  const recent = hub.recent.list().map((m) => JSON.parse(m) as { data: { cert_index: number; update_type: string } });
  assert.deepEqual(recent.map((m) => m.data.cert_index), [10, 12]);
  assert.deepEqual(recent.map((m) => m.data.update_type), ['X509LogEntry', 'PrecertLogEntry']);
  const h = sink.renderHealth(LOG.url);
  assert.deepEqual([h?.skipped, h?.recentEntries, h?.recentSkipped], [3, 5, 3]);
  assert.match(h?.lastError ?? '', /^entry 14: ./);
  assert.equal(sink.renderHealth(OTHER.url), undefined, 'a log that delivered nothing has no counts');
});

test('an undecodable entry handed on by the follower is skipped, counted and shown like an unrenderable one', { timeout: 60_000 }, async (t) => {
  const { metrics, sink, skippedLines } = await setup(t);
  sink.accept(LOG, [entry(0, der), { index: 1, error: new CertstreamError('CT_ERR_BAD_LEAF', 'leaf 1: unknown entry type 7') }, entry(2, der)]);
  assert.equal(await metricValue(metrics, 'certstream_log_errors_total', { log: LOG.url, kind: 'parse' }), 1);
  assert.equal(await metricValue(metrics, 'certstream_entries_total', { log: LOG.url, update_type: 'X509LogEntry' }), 2);
  assert.deepEqual(sink.renderHealth(LOG.url), { skipped: 1, recentEntries: 3, recentSkipped: 1, lastError: 'entry 1: leaf 1: unknown entry type 7' });
  assert.equal(skippedLines()[0].msg, 'entry skipped: cannot decode it');
});

test('a log of nothing but undecodable entries logs one line per interval with the count suppressed (issue 10 item 8)', { timeout: 60_000 }, async (t) => {
  const { metrics, sink, skippedLines, clock } = await setup(t);
  for (let i = 0; i < 342; i++) {
    sink.accept(LOG, [entry(i, garbage)]);
    clock.now += 88; // 342 entries in ~30 s, as in the report
  }
  assert.equal(await metricValue(metrics, 'certstream_log_errors_total', { log: LOG.url, kind: 'parse' }), 342, 'every skip counted');
  assert.equal(skippedLines().length, 1, 'one line in the first minute, not one per entry');
  clock.now += 60_000;
  sink.accept(LOG, [entry(342, garbage)]);
  const lines = skippedLines();
  assert.equal(lines.length, 2);
  assert.equal(lines[1].suppressed, 341, 'the next line says how many were not logged');
  assert.equal(lines[1].skipped_total, 343);
  // Another log is logged on its own schedule.
  sink.accept(OTHER, [entry(0, garbage)]);
  assert.equal(skippedLines().length, 3);
  const h = sink.renderHealth(LOG.url);
  assert.deepEqual([h?.skipped, h?.recentEntries, h?.recentSkipped], [343, 16, 16], 'the window holds the latest 16, all skipped');
  // Good entries push the skips out of the window.
  sink.accept(LOG, Array.from({ length: 16 }, (_, i) => entry(343 + i, der)));
  const after = sink.renderHealth(LOG.url);
  assert.deepEqual([after?.skipped, after?.recentEntries, after?.recentSkipped], [343, 16, 0]);
});

test('the renderer\'s parts of each entry reach the replay window: stored as compact records, replayed byte-identically from disk', { timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ingest-sink-'));
  const window = LocalReplayWindow.open({ stateDir: dir, windowSeconds: 3600, maxBytes: 1e9, cacheBytes: 0 });
  const positions = await PositionStore.open({ stateDir: dir, beforeWrite: () => window.sync() });
  const metrics = createServerMetrics({ processMetrics: false });
  const hub = new FanoutHub(testHubOptions({ metrics, durable: { window, positions, pingIntervalMs: 1000, pongTimeoutMs: 2000 } }));
  t.after(async () => {
    await hub.close();
    await positions.close();
    await window.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const now = 1_800_000_000_000;
  const sink = new IngestSink({ renderer: new Renderer(), hub, metrics, logger: createLogger({ write: () => undefined }), now: () => now });
  // Real entries with their chains, one log's indexes increasing.
  const entries = rfc6962Entries().filter((e, i, all) => i === 0 || e.index > all[i - 1].index).slice(0, 40);
  sink.accept(RFC6962_LOG, entries);
  assert.equal(window.nextSeq, entries.length);
  const segment = readdirSync(join(dir, REPLAY_DIR)).find((f) => f.endsWith('.seg'))!;
  const bytes = readFileSync(join(dir, REPLAY_DIR, segment));
  let records = 0;
  for (let at = 0; at < bytes.length; at += 8 + (bytes.readUInt32LE(at) & 0x7fffffff), records++) assert.ok(isCompact(bytes, at), `record ${records} is compact`);
  assert.equal(records, entries.length);
  const rendered = entries.map((e) => new Renderer().render(RFC6962_LOG, e, now / 1000));
  for (const stream of ['lite', 'full', 'domains'] as const) {
    const r = await window.read(stream, 0, 64 << 20);
    assert.equal(r.batch.ends.length, entries.length);
    assert.ok(r.batch.payloads.every((p, i) => p.toString('utf8') === rendered[i][stream]), `${stream} frames as rendered`);
  }
});
