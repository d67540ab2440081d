import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LogStatus } from '../../src/ct/types.js';
import { buildHealthz, defaultStaleAfterMs, healthHttpStatus, healthStatus, logHealthy, MIN_JUDGED_ENTRIES, withRenderHealth } from '../../src/http/healthz.js';

const NOW = 1_800_000_000_000;
const rules = { nowMs: NOW, staleAfterMs: 30_000, maxLag: 1000 };

function log(over: Partial<LogStatus> = {}): LogStatus {
  return {
    url: 'https://ct.example/a/',
    name: 'a',
    kind: 'rfc6962',
    tree_size: 100,
    next_index: 100,
    lag: 0,
    last_success: NOW / 1000 - 5,
    last_error: null,
    verified_size: null,
    verification: 'ok',
    ...over,
  };
}

test('a log is healthy when polled recently with a small lag', () => {
  assert.equal(logHealthy(log(), rules), true);
  assert.equal(logHealthy(log({ last_success: null }), rules), false, 'never polled');
  assert.equal(logHealthy(log({ last_success: NOW / 1000 - 31 }), rules), true, 'truncated second allowed');
  assert.equal(logHealthy(log({ last_success: NOW / 1000 - 32 }), rules), false, 'stale');
  assert.equal(logHealthy(log({ lag: 1000 }), rules), true);
  assert.equal(logHealthy(log({ lag: 1001 }), rules), false, 'lagging');
  assert.equal(logHealthy(log({ last_error: 'HTTP 503' }), rules), true, 'a recent success outweighs an old error');
});

test('ok when all logs are healthy, degraded when some, down when none', () => {
  const good = log();
  const stale = log({ last_success: NOW / 1000 - 600 });
  assert.equal(healthStatus([good, good], true, rules), 'ok');
  assert.equal(healthStatus([good, stale], true, rules), 'degraded');
  assert.equal(healthStatus([good, log({ lag: 5000 })], true, rules), 'degraded');
  assert.equal(healthStatus([stale, log({ last_success: null })], true, rules), 'down');
});

test('down when nothing is followed or the server is not ingesting', () => {
  assert.equal(healthStatus([], true, rules), 'down');
  assert.equal(healthStatus([log()], false, rules), 'down');
});

test('HTTP 503 only when down', () => {
  assert.equal(healthHttpStatus('ok'), 200);
  assert.equal(healthHttpStatus('degraded'), 200);
  assert.equal(healthHttpStatus('down'), 503);
});

test('the stale window is a few poll intervals, at least 30 s', () => {
  assert.equal(defaultStaleAfterMs(5000), 30_000);
  assert.equal(defaultStaleAfterMs(60_000), 180_000);
});

test('the body has the contract keys', () => {
  const body = buildHealthz({
    logs: [log(), log({ url: 'https://ct.example/b/', last_success: null })].map((l) => withRenderHealth(l, undefined)),
    cursors: { lastError: null, errors: 0 },
    ingesting: true,
    rules,
    startedAtMs: NOW - 12_345,
    clients: { lite: 2, full: 1, domains: 0 },
    certificates: 7,
    dropped: 1,
    version: '0.1.0',
  });
  assert.equal(body.status, 'degraded');
  assert.equal(body.uptime_seconds, 12.3);
  assert.equal(body.clients, 3);
  assert.equal(body.healthy_logs, 1);
  for (const key of ['url', 'name', 'kind', 'tree_size', 'next_index', 'lag', 'last_success', 'last_error', 'skipped']) {
    assert.ok(key in body.logs[0], key);
  }
  assert.deepEqual(body.cursors, { last_error: null, flush_errors: 0 });
});

test('a failing cursor flush degrades an otherwise healthy server (issue 10 item 7)', () => {
  const input = {
    logs: [withRenderHealth(log(), undefined)],
    ingesting: true,
    rules,
    startedAtMs: NOW,
    clients: { lite: 0, full: 0, domains: 0 },
    certificates: 0,
    dropped: 0,
    version: '0.1.0',
  };
  assert.equal(buildHealthz({ ...input, cursors: { lastError: null, errors: 3 } }).status, 'ok', 'recovered: only the count remains');
  const failing = buildHealthz({ ...input, cursors: { lastError: 'cannot write cursor file x: ENOSPC', errors: 4 } });
  assert.equal(failing.status, 'degraded');
  assert.deepEqual(failing.cursors, { last_error: 'cannot write cursor file x: ENOSPC', flush_errors: 4 });
  assert.equal(healthStatus([log({ last_success: null })], true, rules, false), 'down', 'never better than the logs');
});

test('a log streaming nothing but skipped entries is unhealthy and says why (issue 10 item 8)', () => {
  const render = (recentSkipped: number, recentEntries: number) => ({ skipped: recentSkipped + 1000, recentEntries, recentSkipped, lastError: 'entry 41: not a certificate' });
  const all = withRenderHealth(log(), render(256, 256));
  assert.equal(all.last_error, '256 of the last 256 entries could not be rendered: entry 41: not a certificate');
  assert.equal(all.skipped, 1256);
  assert.equal(logHealthy(all, rules), false);
  assert.equal(healthStatus([withRenderHealth(log(), undefined), all], true, rules), 'degraded');
  const some = withRenderHealth(log(), render(3, 256));
  assert.equal(some.last_error, '3 of the last 256 entries could not be rendered: entry 41: not a certificate');
  assert.equal(logHealthy(some, rules), true, 'a few bad entries among good ones stay healthy, but visible');
  const few = withRenderHealth(log(), render(MIN_JUDGED_ENTRIES - 1, MIN_JUDGED_ENTRIES - 1));
  assert.equal(logHealthy(few, rules), true, 'too few entries to judge a log on');
  const clean = withRenderHealth(log(), { skipped: 5, recentEntries: 256, recentSkipped: 0, lastError: 'old' });
  assert.equal(clean.last_error, null, 'skips that left the window no longer show');
  const ownError = withRenderHealth(log({ last_error: 'HTTP 503' }), render(256, 256));
  assert.equal(ownError.last_error, 'HTTP 503', "the follower's own error comes first");
});

test('with NATS: an edge is ok while it serves from the stream; any node is degraded, never down, while NATS is away', () => {
  const input = {
    cursors: { lastError: null, errors: 0 },
    rules,
    startedAtMs: NOW,
    clients: { lite: 1, full: 0, domains: 0 },
    certificates: 0,
    dropped: 0,
    version: '0.1.0',
  };
  const nats = { role: 'edge' as const, connected: true, stream: 'CERTSTREAM', first_seq: 1, last_seq: 10, delivered_seq: 10, consumer_lag: 0, publish_pending: null, last_error: null };
  const edge = buildHealthz({ ...input, logs: [], ingesting: true, nats });
  assert.equal(edge.status, 'ok', 'an edge follows no log and is healthy');
  assert.deepEqual(edge.nats, nats);
  assert.equal(buildHealthz({ ...input, logs: [], ingesting: true, nats: { ...nats, delivered_seq: null } }).status, 'degraded', 'not serving from the stream yet');
  assert.equal(buildHealthz({ ...input, logs: [], ingesting: true, nats: { ...nats, connected: false } }).status, 'degraded');
  // An ingest whose followers wait for NATS: lag over --max-lag, no recent success. A restart would not
  // bring NATS back, so the watchdog must not fire: degraded, not down.
  const waiting = [withRenderHealth(log({ lag: 50_000, last_success: NOW / 1000 - 600 }), undefined)];
  const ingest = { ...nats, role: 'ingest' as const, delivered_seq: null, consumer_lag: null, publish_pending: 8192 };
  assert.equal(buildHealthz({ ...input, logs: waiting, ingesting: true, nats: { ...ingest, connected: false } }).status, 'degraded');
  assert.equal(buildHealthz({ ...input, logs: [], ingesting: false, nats: { ...ingest, connected: false } }).status, 'degraded', 'still waiting for NATS at start');
  assert.equal(buildHealthz({ ...input, logs: waiting, ingesting: true, nats: ingest }).status, 'down', 'NATS there and no log healthy: down as always');
});
