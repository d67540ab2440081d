import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LogStatus } from '../../src/ct/types.js';
import { buildStatus, logState } from '../../src/http/dashboard/status-json.js';
import { buildHealthz, withRenderHealth, type HealthRules, type LogHealth } from '../../src/http/healthz.js';

const NOW = 1_764_000_000_000;
const rules: HealthRules = { nowMs: NOW, staleAfterMs: 30_000, maxLag: 1000 };

function log(over: Partial<LogStatus> = {}): LogHealth {
  return withRenderHealth(status(over), undefined);
}

function status(over: Partial<LogStatus>): LogStatus {
  return { url: 'https://a/', name: 'A', kind: 'rfc6962', tree_size: 100, next_index: 100, lag: 0, last_success: NOW / 1000 - 2, last_error: null, verified_size: null, verification: 'ok', ...over };
}

test('log states: failing, behind, starting, ok', () => {
  assert.equal(logState(log(), rules), 'ok');
  assert.equal(logState(log({ last_error: 'HTTP 503' }), rules), 'failing');
  assert.equal(logState(log({ last_success: NOW / 1000 - 40 }), rules), 'failing', 'no success within the staleness window');
  assert.equal(logState(log({ last_success: NOW / 1000 - 31 }), rules), 'ok', 'the truncated second is allowed');
  assert.equal(logState(log({ last_success: null, tree_size: null }), rules), 'starting');
  assert.equal(logState(log({ last_success: null, last_error: 'timeout' }), rules), 'failing');
  assert.equal(logState(log({ lag: 1001, next_index: 0, tree_size: 1001 }), rules), 'behind');
  assert.equal(logState(log({ lag: 1000 }), rules), 'ok');
  // The sink's skips show as last_error (withRenderHealth): a log streaming undecodable entries fails.
  const skipping = withRenderHealth(status({}), { skipped: 9, recentEntries: 9, recentSkipped: 9, lastError: 'not a certificate' });
  assert.equal(logState(skipping, rules), 'failing');
});

test('status body: the healthz body plus rates, states and the sample', () => {
  const logs = [log(), log({ url: 'https://b/', name: 'B', last_error: 'HTTP 429' })];
  const health = buildHealthz({
    logs, cursors: { lastError: null, errors: 0 }, ingesting: true, rules, startedAtMs: NOW - 5000, clients: { lite: 1, full: 0, domains: 2 },
    certificates: 10, dropped: 3, version: '1.2.3',
  });
  const s = buildStatus({
    health, rules, slowClientCloses: 4,
    rates: { windowSeconds: 59.96, perLog: new Map([['https://a/', 12.345]]), total: 12.345 },
    history: { perLog: new Map([['https://a/', [1.04, 12.345]]]), stepSeconds: 10 },
    recent: { sampled_per_second: 10, last_seq: 0, unreadable: 0, certificates: [] },
  });
  const { logs: _l, ...rest } = health;
  for (const [k, v] of Object.entries(rest)) assert.deepEqual(s[k as keyof typeof s], v, k);
  assert.deepEqual(s.logs.map((l) => [l.url, l.entries_per_second, l.state]), [['https://a/', 12.3, 'ok'], ['https://b/', null, 'failing']]);
  assert.deepEqual(s.logs.map((l) => l.rate_history), [[1, 12.3], []], 'the chart points, rounded; none yet for b');
  assert.equal(s.rate_history_step_seconds, 10);
  assert.equal(s.entries_per_second, 12.3);
  assert.equal(s.rate_window_seconds, 60);
  assert.equal(s.now, NOW / 1000);
  assert.equal(s.max_lag, 1000);
  assert.equal(s.stale_after_seconds, 30);
  assert.equal(s.slow_client_closes, 4);
});
