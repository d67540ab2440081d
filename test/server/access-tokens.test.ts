// Tokens (interface.md, "Access control and TLS"), end to end with the real server and the real `ws`
// client: 401 and 429 before the upgrade, Bearer and ?token=, the paths each setting protects, the
// metrics, SIGHUP's reload (a bad file keeps the old tokens), and no token text in any log line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ServerConfig } from '../../src/config/server-config.js';
import { createLogger } from '../../src/log/logger.js';
import { createServerMetrics } from '../../src/metrics/server-metrics.js';
import { startServer, type ServerHandle } from '../../src/server.js';
import { upgrade } from '../support/ws-upgrade.js';
import { waitUntil } from '../support/wait-until.js';
import { startFake, tempDir, testConfig } from './server-harness.js';

const A = 'alice-s3cret-token';
const B = 'bob-s3cret-token';
const C = 'carol-s3cret-token';
const sha = (token: string) => createHash('sha256').update(token).digest('hex');

/** The real server with a logger that keeps every line (debug included). */
async function startLogged(config: ServerConfig): Promise<{ server: ServerHandle; lines: string[] }> {
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', write: (line) => lines.push(line) });
  const server = await startServer(config, { logger, metrics: createServerMetrics({ processMetrics: false }), env: {}, ingest: { partialTileDelayMs: 0, cursorFlushMs: 50 } });
  return { server, lines };
}

async function metricValue(server: ServerHandle, series: string, token?: string): Promise<number | undefined> {
  const text = await (await fetch(`${server.url}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} })).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test('tokens: 401 and 429 before the upgrade, Bearer or ?token=, counted, never logged', { timeout: 60_000 }, async (t) => {
  const fake = await startFake(t, { rfc6962Logs: 1, staticLogs: 0, initialSize: 10 });
  const dir = await tempDir(t);
  const tokens = join(dir, 'tokens');
  await writeFile(tokens, `# test tokens\nalice ${sha(A)}\nbob ${sha(B)} 1\n`);
  const { server, lines } = await startLogged(testConfig(fake, dir, { tokens }));
  t.after(() => server.close());
  const ws = server.url.replace(/^http/, 'ws');

  const missing = await upgrade(`${ws}/`);
  const unknown = await upgrade(`${ws}/full-stream?token=wrong-s3cret`);
  const unknownHeader = await upgrade(`${ws}/`, { headers: { authorization: 'Bearer wrong-s3cret' } });
  assert.deepEqual([missing.status, unknown.status, unknownHeader.status], [401, 401, 401]);
  assert.equal(unknown.body, missing.body, 'a missing and an unknown token get the same answer');

  const byQuery = await upgrade(`${ws}/?token=${A}`);
  const byHeader = await upgrade(`${ws}/domains-only`, { headers: { authorization: `Bearer ${A}` } });
  const bob = await upgrade(`${ws}/full-stream?token=${B}`);
  assert.deepEqual([byQuery.status, byHeader.status, bob.status], [101, 101, 101]);
  const bobAgain = await upgrade(`${ws}/?token=${B}`);
  assert.equal(bobAgain.status, 429, "bob's second connection is over his max-connections");
  assert.equal(await metricValue(server, 'certstream_connections{token="alice"}'), 2);
  assert.equal(await metricValue(server, 'certstream_connections{token="bob"}'), 1);
  bob.ws!.close();
  await waitUntil("bob's connection is gone", 10_000, async () => (await metricValue(server, 'certstream_connections{token="bob"}')) === 0);
  const bobLater = await upgrade(`${ws}/?token=${B}`);
  assert.equal(bobLater.status, 101, 'the limit counts open connections only');
  for (const c of [byQuery, byHeader, bobLater]) c.ws!.close();

  // Plain requests: the data paths need a token, /healthz and /metrics (without --protect-metrics) do not.
  const status = async (path: string, headers: Record<string, string> = {}) => (await fetch(`${server.url}${path}`, { headers })).status;
  assert.equal(await status('/latest.json'), 401);
  assert.equal(await status('/example.json?token=wrong-s3cret'), 401);
  assert.equal(await status(`/latest.json?token=${A}`), 200);
  assert.equal(await status('/example.json', { authorization: `Bearer ${B}` }), 200);
  assert.equal(await status('/healthz'), 200);
  assert.equal(await status('/metrics'), 200);
  assert.equal(await status('/status.json'), 200);

  assert.equal(await metricValue(server, 'certstream_auth_failures_total{reason="missing"}'), 2);
  assert.equal(await metricValue(server, 'certstream_auth_failures_total{reason="unknown"}'), 3);
  assert.equal(await metricValue(server, 'certstream_auth_failures_total{reason="limit"}'), 1);
  assert.equal(await metricValue(server, 'certstream_auth_failures_total{reason="address"}'), 0);

  // A refused stream request (HTTP 400) logs its path: with the token masked.
  assert.equal((await upgrade(`${ws}/?token=${A}&since=yesterday`)).status, 400);
  await waitUntil('the refusal logged', 5000, () => lines.some((l) => l.includes('stream request refused')));
  assert.ok(lines.some((l) => l.includes('request refused: no valid token')), 'refusals are logged');
  const leaks = lines.filter((l) => [A, B, 'wrong-s3cret'].some((secret) => l.includes(secret)));
  assert.deepEqual(leaks, [], 'no token text in the logs');
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  assert.ok(![A, B, 'wrong-s3cret'].some((secret) => metrics.includes(secret)), 'no token text in the metrics');
});

test('--protect-metrics: /metrics and /status.json need a token, /healthz and the page stay open', { timeout: 60_000 }, async (t) => {
  const fake = await startFake(t, { rfc6962Logs: 1, staticLogs: 0, initialSize: 10 });
  const dir = await tempDir(t);
  const tokens = join(dir, 'tokens');
  await writeFile(tokens, `alice ${sha(A)}\n`);
  const { server } = await startLogged(testConfig(fake, dir, { tokens, protectMetrics: true }));
  t.after(() => server.close());
  const status = async (path: string, headers: Record<string, string> = {}) => (await fetch(`${server.url}${path}`, { headers })).status;
  assert.deepEqual([await status('/metrics'), await status('/status.json'), await status('/metrics?token=nope')], [401, 401, 401]);
  assert.deepEqual([await status(`/metrics?token=${A}`), await status('/status.json', { authorization: `Bearer ${A}` })], [200, 200]);
  assert.equal(await status('/healthz'), 200);
  assert.equal(await status('/', { accept: 'text/html' }), 200, 'the dashboard page itself asks for the token');
  assert.equal(await status('/assets/dashboard.js'), 200);
});

test('SIGHUP reload: new tokens in force, open connections stay, a bad file keeps the old tokens', { timeout: 60_000 }, async (t) => {
  const fake = await startFake(t, { rfc6962Logs: 1, staticLogs: 0, initialSize: 10 });
  const dir = await tempDir(t);
  const tokens = join(dir, 'tokens');
  await writeFile(tokens, `alice ${sha(A)}\n`);
  const { server, lines } = await startLogged(testConfig(fake, dir, { tokens }));
  t.after(() => server.close());
  const ws = server.url.replace(/^http/, 'ws');
  const alice = await upgrade(`${ws}/?token=${A}`);
  assert.equal(alice.status, 101);
  let aliceClosed = false;
  alice.ws!.once('close', () => (aliceClosed = true));

  await writeFile(tokens, `carol ${sha(C)} 3\n`);
  server.reload();
  assert.equal((await upgrade(`${ws}/?token=${A}`)).status, 401, 'alice is gone from the file');
  const carol = await upgrade(`${ws}/?token=${C}`);
  assert.equal(carol.status, 101);
  assert.ok(lines.some((l) => l.includes('"tokens reloaded"')));

  await writeFile(tokens, `carol ${sha(C)}\ndave not-a-digest\n`);
  server.reload();
  const refused = lines.filter((l) => l.includes('tokens not reloaded'));
  assert.equal(refused.length, 1, 'one log line');
  assert.match(refused[0], /line 2/);
  const carol2 = await upgrade(`${ws}/`, { headers: { authorization: `Bearer ${C}` } });
  assert.equal(carol2.status, 101, 'the previous tokens stay in force');
  assert.equal(alice.ws!.readyState, alice.ws!.OPEN, "alice's open connection stays");
  assert.equal(aliceClosed, false);
  for (const c of [alice, carol, carol2]) c.ws!.close();
});
