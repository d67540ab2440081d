import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_LOG_LIST, envName, validateConfig } from '../../src/config/server-config.js';

test('defaults give the contract values', () => {
  const r = validateConfig({});
  assert.ok(r.ok);
  const c = r.config;
  assert.equal(c.host, '0.0.0.0');
  assert.equal(c.port, 4000);
  assert.equal(c.logList, DEFAULT_LOG_LIST);
  assert.equal(c.stateDir, './state');
  assert.equal(c.backfill, 0);
  assert.equal(c.pollIntervalMs, 5000);
  assert.match(c.userAgent, /^certstream-server\/\d+\.\d+\.\d+/);
  assert.equal(c.heartbeatIntervalMs, 30000);
  assert.equal(c.perMessageDeflate, false);
  assert.deepEqual(c.logsInclude, []);
  assert.deepEqual(c.logsExclude, []);
});

test('state-dir defaults to the first STATE_DIRECTORY entry', () => {
  const r = validateConfig({}, { env: { STATE_DIRECTORY: '/var/lib/certstream-server:/var/lib/other' } });
  assert.ok(r.ok);
  assert.equal(r.config.stateDir, '/var/lib/certstream-server');
});

test('decimal seconds become milliseconds', () => {
  const r = validateConfig({ 'poll-interval': '0.25', 'heartbeat-interval': '0', 'slow-client-timeout': '1.5' });
  assert.ok(r.ok);
  assert.equal(r.config.pollIntervalMs, 250);
  assert.equal(r.config.heartbeatIntervalMs, 0);
  assert.equal(r.config.slowClientTimeoutMs, 1500);
});

test('regex lists compile', () => {
  const r = validateConfig({ 'logs-include': ['argon', 'xenon2026'], 'logs-exclude': ['h1$'] });
  assert.ok(r.ok);
  assert.equal(r.config.logsInclude.length, 2);
  assert.ok(r.config.logsExclude[0].test('https://ct.example/2026h1'));
});

test('every bad value is reported, one line each, naming the flag', () => {
  const bad: Record<string, string | string[]> = {
    host: ' ',
    port: '70000',
    'log-list': 'ftp://example.com/list.json',
    'state-dir': '',
    backfill: '-1',
    'poll-interval': '0',
    'user-agent': 'a\nb',
    'heartbeat-interval': 'soon',
    'logs-include': ['('],
    'logs-exclude': ['[z-a]'],
    'client-buffer-bytes': '1.5',
    'slow-client-timeout': '-3',
    'ping-interval': 'x',
    'per-message-deflate': 'maybe',
    'max-payload': '10',
    'max-lag': '1e400',
    'log-level': 'loud',
  };
  const r = validateConfig(bad);
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.equal(r.problems.length, Object.keys(bad).length);
  for (const flag of Object.keys(bad)) {
    const lines: string[] = r.problems.filter((p) => p.startsWith(`--${flag}:`));
    assert.equal(lines.length, 1, `one line for --${flag}: ${r.problems.join(' | ')}`);
    assert.ok(!lines[0].includes('\n'));
  }
});

test('each single bad value gives exactly one problem', () => {
  const cases: Record<string, string> = { port: '-1', backfill: '1.5', 'poll-interval': '', 'heartbeat-interval': '-1', 'max-lag': 'NaN' };
  for (const [flag, value] of Object.entries(cases)) {
    const r = validateConfig({ [flag]: value });
    assert.equal(r.ok, false, flag);
    if (!r.ok) assert.deepEqual(r.problems.length, 1, flag);
  }
});

test('log list file readability is checked through the probe', () => {
  const seen: string[] = [];
  const r = validateConfig({ 'log-list': './missing.json' }, { isReadableFile: (p) => (seen.push(p), false) });
  assert.equal(r.ok, false);
  assert.deepEqual(seen, ['./missing.json']);
  const url = validateConfig({ 'log-list': 'http://127.0.0.1:1/log_list.json' }, { isReadableFile: () => false });
  assert.ok(url.ok, 'URLs are not probed as files');
});

test('environment variable names', () => {
  assert.equal(envName('log-list'), 'CERTSTREAM_LOG_LIST');
  assert.equal(envName('heartbeat-interval'), 'CERTSTREAM_HEARTBEAT_INTERVAL');
});

test('ingest tuning: partial tile delay, log list refresh, reset-state', () => {
  const d = validateConfig({});
  assert.ok(d.ok);
  assert.equal(d.config.partialTileDelayMs, 10_000);
  assert.equal(d.config.logListRefreshMs, 3_600_000);
  assert.equal(d.config.resetState, false);
  const r = validateConfig({ 'partial-tile-delay': '0.5', 'log-list-refresh': '0', 'reset-state': 'yes' });
  assert.ok(r.ok);
  assert.equal(r.config.partialTileDelayMs, 500);
  assert.equal(r.config.logListRefreshMs, 0);
  assert.equal(r.config.resetState, true);
  const bad = validateConfig({ 'partial-tile-delay': '-1', 'log-list-refresh': 'hourly', 'reset-state': 'maybe' });
  assert.ok(!bad.ok);
  assert.deepEqual(bad.problems, [
    '--reset-state: "maybe" is not true or false',
    '--partial-tile-delay: "-1" is not a number >= 0',
    '--log-list-refresh: "hourly" is not a number >= 0',
  ]);
});
