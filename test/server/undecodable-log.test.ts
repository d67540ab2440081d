/**
 * Issue 10 item 8, end to end: a hostile RFC 6962 log whose every entry is well framed but whose
 * certificate is not a certificate. The real server skips and counts each one, logs about it once a
 * minute (not once per entry), and /healthz shows it: last_error, skipped counts, status degraded
 * beside a healthy log.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger } from '../../src/log/logger.js';
import { createServerMetrics } from '../../src/metrics/server-metrics.js';
import { startServer } from '../../src/server.js';
import type { LogHealth } from '../../src/http/healthz.js';
import { metricValue } from '../stream/hub-harness.js';
import { pollUntil, startFake, tempDir, testConfig } from './server-harness.js';

/** A MerkleTreeLeaf (v1, timestamped_entry, x509_entry) around `cert`, and an empty chain. */
function hostileEntry(cert: Buffer): { leaf_input: string; extra_data: string } {
  const leaf = Buffer.alloc(2 + 8 + 2 + 3 + cert.length + 2);
  let o = 2; // version 0, leaf_type 0
  leaf.writeBigUInt64BE(1_700_000_000_000n, o);
  o += 8;
  leaf.writeUInt16BE(0, o); // x509_entry
  o += 2;
  leaf.writeUIntBE(cert.length, o, 3);
  o += 3;
  cert.copy(leaf, o);
  return { leaf_input: leaf.toString('base64'), extra_data: Buffer.alloc(3).toString('base64') };
}

/** `not-a-cert`: well-framed leaves around an INTEGER; `bad-leaf`: a leaf_input that is not a MerkleTreeLeaf. */
type Hostility = 'not-a-cert' | 'bad-leaf';

async function startHostileLog(t: { after(fn: () => Promise<void>): void }, size: number, hostility: Hostility): Promise<string> {
  const entry =
    hostility === 'not-a-cert'
      ? hostileEntry(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x05]))
      : { leaf_input: Buffer.from([0, 0, 1, 2, 3]).toString('base64'), extra_data: '' };
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    res.setHeader('content-type', 'application/json');
    if (url.pathname === '/hostile/ct/v1/get-sth') return res.end(JSON.stringify({ tree_size: size, timestamp: Date.now() }));
    if (url.pathname === '/hostile/ct/v1/get-entries') {
      const start = Number(url.searchParams.get('start'));
      const end = Math.min(Number(url.searchParams.get('end')), size - 1, start + 31);
      return res.end(JSON.stringify({ entries: Array.from({ length: end - start + 1 }, () => entry) }));
    }
    res.statusCode = 404;
    res.end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/hostile/`;
}

for (const [hostility, reason] of [
  ['not-a-cert', 'not a certificate'],
  ['bad-leaf', 'not a MerkleTreeLeaf'],
] as const) {
test(`a log of nothing but undecodable entries (${reason}): counted, logged once, degraded with last_error`, { timeout: 60_000 }, async (t) => {
  const size = 342;
  const hostile = await startHostileLog(t, size, hostility);
  const fake = await startFake(t, { staticLogs: 0 });
  fake.logListOverride = (list) => {
    const op = (list.operators as { logs: Record<string, unknown>[] }[])[0];
    op.logs.push({ ...op.logs[0], description: 'Hostile log', log_id: 'aG9zdGlsZQ==', url: hostile });
    return list;
  };
  const dir = await tempDir(t);
  const metrics = createServerMetrics({ processMetrics: false });
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) });
  const server = await startServer(testConfig(fake, dir, { backfill: size }), { logger, metrics, env: {}, ingest: { cursorFlushMs: 50 } });
  t.after(() => server.close());
  const hostileHealth = () => server.health().logs.find((l) => l.url === hostile) as LogHealth | undefined;
  await pollUntil('every hostile entry handled', () => hostileHealth()?.next_index === size);

  assert.equal(await metricValue(metrics, 'certstream_log_errors_total', { log: hostile, kind: 'parse' }), size, 'each skip counted');
  const skipLines = lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('entry skipped'));
  assert.equal(skipLines.length, 1, `one line, not one per entry (got ${skipLines.length})`);
  const h = hostileHealth()!;
  assert.equal(h.skipped, size);
  assert.equal(h.recent_skipped, h.recent_entries);
  assert.match(h.last_error ?? '', /^256 of the last 256 entries could not be rendered: entry 341: /);
  const body = (await (await fetch(`${server.url}/healthz`)).json()) as { status: string; healthy_logs: number };
  assert.equal(body.status, 'degraded', 'the other log is fine, this one streams nothing');
  assert.equal(body.healthy_logs, 1);
});
}
