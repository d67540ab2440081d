import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket } from 'ws';
import type { LogStatus } from '../../src/ct/types.js';
import { IngestRates } from '../../src/ct/ingest-rates.js';
import { buildStatus } from '../../src/http/dashboard/status-json.js';
import { buildHealthz, withRenderHealth } from '../../src/http/healthz.js';
import { createRequestHandler, createUpgradeHandler } from '../../src/http/routes.js';
import { silentLogger } from '../../src/log/logger.js';
import { createServerMetrics } from '../../src/metrics/server-metrics.js';
import { FanoutHub } from '../../src/stream/fanout-hub.js';
import { frames } from '../stream/hub-harness.js';
import { testHubOptions } from '../stream/hub-harness.js';

async function start(state: { logs: LogStatus[]; ingesting: boolean }) {
  const metrics = createServerMetrics({ processMetrics: true });
  const hub = new FanoutHub(testHubOptions({ metrics }));
  const health = () =>
    buildHealthz({
      logs: state.logs.map((l) => withRenderHealth(l, undefined)),
      cursors: { lastError: null, errors: 0 },
      ingesting: state.ingesting,
      rules: { nowMs: Date.now(), staleAfterMs: 30_000, maxLag: 1000 },
      startedAtMs: Date.now(),
      clients: hub.stats().clients,
      certificates: hub.stats().published,
      dropped: hub.stats().dropped,
      version: '0.0.0-test',
    });
  const status = async () => buildStatus({
    health: health(), rules: { nowMs: Date.now(), staleAfterMs: 30_000, maxLag: 1000 }, rates: new IngestRates().snapshot(), history: { perLog: new Map(), stepSeconds: 10 }, slowClientCloses: 0,
    recent: { sampled_per_second: 10, last_seq: 0, unreadable: 0, certificates: [] },
  });
  const server = createServer(createRequestHandler({ recent: () => hub.recent, health, status, registry: metrics.registry, logger: silentLogger }));
  server.on('upgrade', createUpgradeHandler((req, socket, head) => hub.handleUpgrade(req, socket, head)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    hub,
    base: `http://127.0.0.1:${port}`,
    async close() {
      await hub.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function status(url: string): LogStatus {
  return { url, name: url, kind: 'rfc6962', tree_size: 10, next_index: 10, lag: 0, last_success: Math.floor(Date.now() / 1000), last_error: null, verified_size: null, verification: 'ok' };
}

test('latest.json and example.json follow what was published', { timeout: 60_000 }, async (t) => {
  const s = await start({ logs: [], ingesting: true });
  t.after(() => s.close());
  let r = await fetch(`${s.base}/example.json`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type') ?? '', /application\/json/);
  assert.equal(await r.json(), null);
  assert.deepEqual(await (await fetch(`${s.base}/latest.json`)).json(), { messages: [] });
  s.hub.publish(frames('https://a.example/', 0, 30));
  s.hub.publish(frames('https://a.example/', 30, 2));
  r = await fetch(`${s.base}/latest.json`);
  const latest = (await r.json()) as { messages: { data: { cert_index: number; kind: string } }[] };
  assert.equal(latest.messages.length, 25);
  assert.deepEqual(latest.messages.slice(0, 3).map((m) => m.data.cert_index), [30, 31, 5]);
  assert.ok(latest.messages.every((m) => m.data.kind === 'lite'));
  const example = (await (await fetch(`${s.base}/example.json?x`)).json()) as { data: { cert_index: number } };
  assert.equal(example.data.cert_index, 30);
});

test('healthz: 200 ok, 200 degraded, 503 down', { timeout: 60_000 }, async (t) => {
  const state = { logs: [status('https://a/'), status('https://b/')], ingesting: true };
  const s = await start(state);
  t.after(() => s.close());
  let r = await fetch(`${s.base}/healthz`);
  assert.equal(r.status, 200);
  let body = (await r.json()) as { status: string; clients: number; uptime_seconds: number; logs: LogStatus[] };
  assert.equal(body.status, 'ok');
  assert.equal(body.clients, 0);
  assert.equal(typeof body.uptime_seconds, 'number');
  assert.equal(body.logs.length, 2);
  state.logs[1] = { ...state.logs[1], last_success: null, last_error: 'HTTP 503' };
  r = await fetch(`${s.base}/healthz`);
  assert.equal(r.status, 200);
  body = (await r.json()) as typeof body;
  assert.equal(body.status, 'degraded');
  assert.equal(body.logs[1].last_error, 'HTTP 503');
  state.logs[0] = { ...state.logs[0], lag: 1_000_000 };
  r = await fetch(`${s.base}/healthz`);
  assert.equal(r.status, 503);
  assert.equal(((await r.json()) as typeof body).status, 'down');
  state.logs = [status('https://a/')];
  state.ingesting = false;
  assert.equal((await fetch(`${s.base}/healthz`)).status, 503);
});

test('metrics: Prometheus text with the contract names and process metrics', { timeout: 60_000 }, async (t) => {
  const s = await start({ logs: [], ingesting: true });
  t.after(() => s.close());
  const r = await fetch(`${s.base}/metrics`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type') ?? '', /text\/plain/);
  const text = await r.text();
  for (const name of [
    'certstream_entries_total',
    'certstream_log_tree_size',
    'certstream_log_next_index',
    'certstream_log_errors_total',
    'certstream_clients',
    'certstream_client_dropped_messages_total',
    'certstream_client_disconnects_total',
    'certstream_client_buffered_bytes',
    'certstream_clients_over_budget',
    'process_cpu_seconds_total',
    'process_resident_memory_bytes',
  ]) {
    assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), name);
  }
  assert.match(text, /^certstream_clients\{stream="lite"\} 0$/m);
});

test('stream paths without Upgrade get the HTML page; with Upgrade they stream', { timeout: 60_000 }, async (t) => {
  const s = await start({ logs: [status('https://a/')], ingesting: true });
  t.after(() => s.close());
  for (const path of ['/', '/full-stream', '/full-stream/', '/domains-only', '/domains-only/']) {
    const r = await fetch(`${s.base}${path}`);
    assert.equal(r.status, 200, path);
    assert.match(r.headers.get('content-type') ?? '', /text\/html/);
    const html = await r.text();
    assert.match(html, /certstream-server/);
    assert.match(html, /\/full-stream/);
    assert.match(html, /\/domains-only/);
  }
  const ws = new WebSocket(`${s.base.replace('http', 'ws')}/domains-only/`);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const html = await (await fetch(`${s.base}/domains-only`)).text();
  assert.match(html, /id="c-domains">1</, 'live client counter');
  ws.close();
});

test('the page escapes the Host header', { timeout: 60_000 }, async (t) => {
  const s = await start({ logs: [], ingesting: true });
  t.after(() => s.close());
  const body = await new Promise<string>((resolve, reject) => {
    const req = request(`${s.base}/`, { headers: { host: '<script>x</script>' } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => resolve(text));
    });
    req.on('error', reject).end();
  });
  assert.ok(!body.includes('<script>x</script>'));
  assert.match(body, /&#60;script&#62;/);
});

test('behind a TLS proxy the page shows wss:// URLs', { timeout: 60_000 }, async (t) => {
  const s = await start({ logs: [], ingesting: true });
  t.after(() => s.close());
  const plain = await (await fetch(`${s.base}/full-stream`)).text();
  assert.match(plain, /ws:\/\/127\.0\.0\.1:\d+\/full-stream/);
  const proxied = await (await fetch(`${s.base}/full-stream`, { headers: { 'x-forwarded-proto': 'https' } })).text();
  assert.match(proxied, /wss:\/\/127\.0\.0\.1:\d+\/full-stream/);
});

test('unknown paths are 404, other methods 405, HEAD has no body', { timeout: 60_000 }, async (t) => {
  const s = await start({ logs: [], ingesting: true });
  t.after(() => s.close());
  for (const path of ['/nope', '/stats', '/latest.json/x', '/full-streamx']) {
    const r = await fetch(`${s.base}${path}`);
    assert.equal(r.status, 404, path);
    await r.text();
  }
  const post = await fetch(`${s.base}/healthz`, { method: 'POST', body: 'x' });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get('allow'), 'GET, HEAD');
  const head = await fetch(`${s.base}/latest.json`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(await head.text(), '');
});

test('a WebSocket upgrade on an unknown path is refused with 404', { timeout: 60_000 }, async (t) => {
  const s = await start({ logs: [], ingesting: true });
  t.after(() => s.close());
  const ws = new WebSocket(`${s.base.replace('http', 'ws')}/nope`);
  const status = await new Promise<number>((resolve) => {
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.once('error', () => resolve(-1));
  });
  assert.equal(status, 404);
});
