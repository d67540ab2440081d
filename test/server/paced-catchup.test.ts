// Consumer-paced catch-up on the real server: a plain client that reads faster than the live stream
// receives a whole --backfill catch-up without a single drop, although the catch-up is many times its
// byte budget (the followers wait while it is full, and the cursors do not advance meanwhile).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { metricValue } from '../stream/hub-harness.js';
import { range } from '../support/entry-collector.js';
import { waitUntil } from '../support/wait-until.js';
import { createServerMetrics } from '../../src/metrics/server-metrics.js';
import { nextIndexes, startFake, startReal, tempDir, testConfig, whenFake } from './server-harness.js';

test('a plain client receives a whole --backfill catch-up without a drop', async (t) => {
  const fake = await startFake(t, { rfc6962Logs: 1, staticLogs: 1, initialSize: 300 });
  for (const l of fake.logs) fake.append(8000, l.url);
  // The logs show no entries until the client is connected: the whole catch-up happens while it reads.
  for (const l of fake.logs) fake.pinHead(l.url, 0);
  const dir = await tempDir(t);
  const metrics = createServerMetrics({ processMetrics: false });
  // The default 8 MiB budget: without pacing, a catch-up of 16,600 entries (several budgets) drops many.
  const server = await startReal(testConfig(fake, dir, { backfill: 1_000_000, slowClientTimeoutMs: 3_600_000 }), metrics);
  t.after(() => server.close());
  const ws = new WebSocket(server.url.replace(/^http/, 'ws') + '/full-stream');
  const seen = new Map<string, number[]>();
  let total = 0;
  ws.on('message', (data) => {
    const f = JSON.parse(String(data)) as { message_type: string; data: { cert_index: number; source: { url: string } } };
    if (f.message_type !== 'certificate_update') return;
    const url = f.data.source.url;
    if (!seen.has(url)) seen.set(url, []);
    seen.get(url)!.push(f.data.cert_index);
    total++;
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  t.after(() => ws.close());
  for (const l of fake.logs) fake.pinHead(l.url, undefined);
  const want = fake.logs.reduce((n, l) => n + fake.size(l.url), 0);
  await whenFake(fake, () => fake.logs.every((l) => nextIndexes(server).get(l.url) === fake.size(l.url)));
  await waitUntil('the whole catch-up, or drops', 60_000, async () => total >= want || (await metricValue(metrics, 'certstream_client_dropped_messages_total', { stream: 'full' })) > 0);
  assert.equal(await metricValue(metrics, 'certstream_client_dropped_messages_total', { stream: 'full' }), 0, 'no frame dropped');
  for (const l of fake.logs) assert.deepEqual(seen.get(l.url), range(0, fake.size(l.url)), l.url);
});
