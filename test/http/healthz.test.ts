import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LogStatus } from '../../src/ct/types.js';
import { buildHealthz, defaultStaleAfterMs, healthHttpStatus, healthStatus, logHealthy } from '../../src/http/healthz.js';

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
    logs: [log(), log({ url: 'https://ct.example/b/', last_success: null })],
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
  for (const key of ['url', 'name', 'kind', 'tree_size', 'next_index', 'lag', 'last_success', 'last_error']) {
    assert.ok(key in body.logs[0], key);
  }
});
