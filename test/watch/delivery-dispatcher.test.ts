/**
 * The delivery dispatcher against a real local HTTP endpoint and a real SQLite store: a permanently
 * failing endpoint is retried with growing, capped delays (one request per delay for the whole URL,
 * never one per pending row), counted in the metrics, and logged once rather than per attempt; when it
 * recovers, every pending delivery goes out in order, once.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/log/logger.js';
import { openStore, parseDbUrl, type WatchStore } from '../../src/watch/store.js';
import { createWatchMetrics } from '../../src/watch/watch-metrics.js';
import { DeliveryDispatcher } from '../../src/watch/delivery-dispatcher.js';
import { WebhookTarget } from '../../src/watch/webhook-target.js';
import { until, WebhookSink } from './support/harness.js';

describe('DeliveryDispatcher', () => {
  let dir: string;
  let store: WatchStore;
  const sink = new WebhookSink();
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'watch-hook-'));
    store = await openStore(parseDbUrl(`sqlite:${join(dir, 'w.sqlite')}`));
    await sink.start();
  });
  after(async () => {
    await store.close();
    await sink.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('backs off a dead endpoint (capped, per URL), logs it once, then delivers everything in order once', async () => {
    const rows = Array.from({ length: 20 }, (_, i) => ({
      time: Date.now() / 1000, domain: `d${i}.example.com`, rule: 'example.com', log: 'log', certIndex: i, fingerprint: 'F', serial: `S${i}`,
      issuer: 'I', notBefore: null, notAfter: null, updateType: 'X509LogEntry',
    }));
    await store.record(rows, [sink.url]);
    const lines: Record<string, unknown>[] = [];
    const metrics = createWatchMetrics();
    const d = new DeliveryDispatcher({
      store, targets: [new WebhookTarget(sink.url, 2000)], metrics, logger: createLogger({ write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) }),
      baseBackoffMs: 40, maxBackoffMs: 160,
    });
    sink.fail = () => true;
    const started = Date.now();
    d.start();
    await until(() => `${sink.requests} requests`, () => sink.requests >= 6);
    // Delays are at least half of 40, 80, 160, 160, 160 ms: five waits before the sixth request.
    assert.ok(Date.now() - started >= (40 + 80 + 160 * 3) / 2, `6 attempts took only ${Date.now() - started} ms`);
    assert.equal(sink.received.length, 0);
    assert.equal(lines.filter((l) => l.msg === 'webhook failing').length, 1, 'one log line, not one per attempt');

    sink.fail = () => false;
    await until(() => `${sink.received.length} delivered`, () => sink.received.length === 20);
    await d.stop();
    assert.deepEqual(sink.received.map((b) => b.cert_index), rows.map((r) => r.certIndex), 'in order, each once');
    assert.equal(await store.pendingCount(), 0);
    const failures = await metrics.registry.getSingleMetricAsString('certwatch_webhook_failures_total');
    assert.match(failures, new RegExp(`certwatch_webhook_failures_total ${sink.failures}$`, 'm'));
    assert.equal(lines.filter((l) => l.msg === 'webhook recovered').length, 1);
  });
});
