// A bad `id` or `since` is refused with HTTP 400 before the upgrade, and the server says why in its log
// too (once a minute): the Python and Go clients show their users only "Handshake status 400".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { createLogger } from '../../src/log/logger.js';
import { createServerMetrics } from '../../src/metrics/server-metrics.js';
import { startServer } from '../../src/server.js';
import { polledAll, startFake, tempDir, testConfig, whenFake } from './server-harness.js';

function refusal(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += String(d)));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.once('open', () => reject(new Error('upgraded')));
    ws.on('error', () => undefined);
  });
}

test('a refused subscription is logged with its reason, once a minute', { timeout: 60_000 }, async (t) => {
  const fake = await startFake(t, { rfc6962Logs: 1, staticLogs: 0, initialSize: 10 });
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) });
  const server = await startServer(testConfig(fake, await tempDir(t)), { logger, metrics: createServerMetrics({ processMetrics: false }), env: {} });
  t.after(() => server.close());
  await whenFake(fake, () => polledAll(server));
  const ws = server.url.replace('http', 'ws');
  const first = await refusal(`${ws}/full-stream?id=a/b`);
  assert.equal(first.status, 400);
  assert.match(first.body, /id/);
  assert.equal((await refusal(`${ws}/?since=yesterday`)).status, 400);
  const logged = lines.filter((l) => l.msg === 'stream request refused (HTTP 400)');
  assert.equal(logged.length, 1, 'one line a minute, not one per request');
  assert.equal(logged[0].reason, first.body.trim());
  assert.equal(logged[0].path, '/full-stream?id=a/b');
});
