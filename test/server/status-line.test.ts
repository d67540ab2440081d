import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CtEntry, LogDescriptor, LogStatus } from '../../src/ct/types.js';
import { createLogger } from '../../src/log/logger.js';
import { createServerMetrics } from '../../src/metrics/server-metrics.js';
import { Renderer } from '../../src/render/renderer.js';
import { createSink, statusLine } from '../../src/server.js';
import { FanoutHub } from '../../src/stream/fanout-hub.js';
import { metricValue } from '../stream/hub-harness.js';
import { testHubOptions } from '../stream/hub-harness.js';

const LOG: LogDescriptor = {
  kind: 'rfc6962',
  url: 'https://ct.example/log/',
  name: 'Example log',
  operator: 'Example',
  logId: 'AAAA',
  monitoringUrl: 'https://ct.example/log/',
  state: 'usable',
};

const der = new Uint8Array(readFileSync(join(import.meta.dirname, '../fixtures/calidog-golden/certs/github.com.der')));

function entry(index: number, leaf: Uint8Array, type: CtEntry['type'] = 'x509'): CtEntry {
  return { index, timestamp: 1_700_000_000_000, type, leaf, chain: [] };
}

test('the sink renders, counts by update type and publishes; a non-certificate is counted as parse and logged once per log', { timeout: 60_000 }, async (t) => {
  const metrics = createServerMetrics({ processMetrics: false });
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) });
  const hub = new FanoutHub(testHubOptions({ metrics, logger }));
  t.after(() => hub.close());
  const sink = createSink(new Renderer(), hub, metrics, logger);
  const garbage = new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x05]);
  sink(LOG, [entry(10, der), entry(11, garbage), entry(12, der, 'precert'), entry(13, new Uint8Array([1, 2, 3]))]);
  sink(LOG, [entry(14, garbage)]);

  assert.equal(await metricValue(metrics, 'certstream_log_errors_total', { log: LOG.url, kind: 'parse' }), 3);
  assert.equal(await metricValue(metrics, 'certstream_entries_total', { log: LOG.url, update_type: 'X509LogEntry' }), 1);
  assert.equal(await metricValue(metrics, 'certstream_entries_total', { log: LOG.url, update_type: 'PrecertLogEntry' }), 1);
  const skipped = lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('entry skipped'));
  assert.equal(skipped.length, 1, 'logged once per log');
  assert.equal(skipped[0].cert_index, 11);
  const recent = hub.recent.list().map((m) => JSON.parse(m) as { data: { cert_index: number; update_type: string } });
  assert.deepEqual(recent.map((m) => m.data.cert_index), [10, 12]);
  assert.deepEqual(recent.map((m) => m.data.update_type), ['X509LogEntry', 'PrecertLogEntry']);
});

test('the systemd status line names logs, clients and lag', { timeout: 60_000 }, () => {
  const s = (over: Partial<LogStatus>): LogStatus => ({
    url: 'u',
    name: 'n',
    kind: 'static',
    tree_size: 10,
    next_index: 10,
    lag: 0,
    last_success: 1,
    last_error: null,
    ...over,
  });
  assert.equal(statusLine([s({ lag: 3 }), s({ last_success: null, lag: 4 })], 7, 99), '1/2 logs polled, 7 clients, total lag 7, 99 certificates streamed');
});
