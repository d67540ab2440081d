import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_LOG_LIST, envName, validateConfig } from '../../src/config/server-config.js';
import { VERSION } from '../../src/version.js';

test('every default, pinned (the contract values, and the heartbeat of 10 s from issue 14)', () => {
  const r = validateConfig({});
  assert.ok(r.ok);
  const { userAgent, ...rest } = r.config;
  assert.equal(userAgent, `certstream-server/${VERSION}`);
  assert.deepEqual(rest, {
    host: '0.0.0.0',
    port: 4000,
    logList: 'https://www.gstatic.com/ct/log_list/v3/log_list.json',
    stateDir: './state',
    backfill: 0,
    pollIntervalMs: 5000,
    // Below the official Go client's 15 s read deadline (README, "Heartbeat: 10 s, not 30 s").
    heartbeatIntervalMs: 10_000,
    logsInclude: [],
    logsExclude: [],
    allowEmpty: false,
    clientBufferBytes: 8 * 1024 * 1024,
    // interface.md, "Faults and hostile clients": 512 MiB over all clients.
    clientsMemoryBytes: 536_870_912,
    slowClientTimeoutMs: 15_000,
    pingIntervalMs: 30_000,
    perMessageDeflate: false,
    maxPayloadBytes: 4096,
    maxConnections: 4096,
    maxLag: 10_000,
    logLevel: 'info',
    // README, "Memory at rest": the idle daemon's freed C heap goes back to the OS.
    memoryReleaseIntervalMs: 2000,
    partialTileDelayMs: 10_000,
    logListRefreshMs: 3_600_000,
    resetState: false,
    // interface.md, "Lossless delivery".
    replayWindowMs: 900_000,
    replayWindowBytes: 2_147_483_648,
    durablePingIntervalMs: 5000,
    // interface.md, "Capacity and lifetime of the window and of positions".
    durableExpireMs: 604_800_000,
    maxDurableSubscriptions: 10_000,
    // interface.md, "Scale-out over NATS JetStream": no broker unless asked.
    nats: '',
    role: 'all',
    natsStream: 'CERTSTREAM',
    natsReplicas: 1,
    tlsCert: '',
    tlsKey: '',
    tokens: '',
    verify: true,
    allowFrom: '',
    protectMetrics: false,
  });
  assert.equal(DEFAULT_LOG_LIST, rest.logList);
});

test('--memory-release-interval 0 turns it off; below 0.1 s is refused', () => {
  const off = validateConfig({ 'memory-release-interval': '0' });
  assert.ok(off.ok && off.config.memoryReleaseIntervalMs === 0);
  const tooOften = validateConfig({ 'memory-release-interval': '0.01' });
  assert.ok(!tooOften.ok && /--memory-release-interval: "0.01" is not 0 \(off\)/.test(tooOften.problems.join()), JSON.stringify(tooOften));
});

test('--durable-expire 0 means never; --max-durable-subscriptions needs at least 1', () => {
  const never = validateConfig({ 'durable-expire': '0' });
  assert.ok(never.ok && never.config.durableExpireMs === 0);
  assert.ok(!validateConfig({ 'max-durable-subscriptions': '0' }).ok);
});

test('durations out of their bounds are refused, one line each (issue 10 item 11)', () => {
  // Each of these was accepted before: 3000000 s overflows a Node timer (fired after 1 ms), 0.0001 s
  // polled ~450 times a second.
  const r = validateConfig({
    'poll-interval': '3000000',
    'log-list-refresh': '3000000',
    'ping-interval': '3000000',
    'heartbeat-interval': '0.2',
    'slow-client-timeout': '86400',
    'partial-tile-delay': '1e9',
  });
  assert.ok(!r.ok);
  assert.deepEqual(r.problems, [
    '--poll-interval: "3000000" is not a number of seconds from 0.01 to 3600',
    '--heartbeat-interval: "0.2" is not 0 (off) or a number of seconds from 1 to 3600',
    '--slow-client-timeout: "86400" is not a number of seconds from 0.1 to 3600',
    '--ping-interval: "3000000" is not 0 (off) or a number of seconds from 1 to 3600',
    '--partial-tile-delay: "1e9" is not a number of seconds from 0 to 3600',
    '--log-list-refresh: "3000000" is not 0 (off) or a number of seconds from 10 to 604800',
  ]);
  const tiny = validateConfig({ 'poll-interval': '0.0001' });
  assert.ok(!tiny.ok);
  assert.deepEqual(tiny.problems, ['--poll-interval: "0.0001" is not a number of seconds from 0.01 to 3600']);
  const edges = validateConfig({ 'poll-interval': '0.01', 'log-list-refresh': '604800', 'ping-interval': '0', 'heartbeat-interval': '0' });
  assert.ok(edges.ok, 'the bounds themselves and 0 = off are accepted');
});

test('numbers out of their bounds are refused', () => {
  const r = validateConfig({ backfill: '1e12', 'client-buffer-bytes': String(2 ** 31), 'max-payload': String(2 ** 30) });
  assert.ok(!r.ok);
  assert.deepEqual(r.problems, [
    '--backfill: "1e12" is not an integer (entries) from 0 to 1000000000',
    '--client-buffer-bytes: "2147483648" is not an integer (bytes) from 1024 to 1073741824',
    '--max-payload: "1073741824" is not an integer (bytes) from 125 to 16777216',
  ]);
});

test('a user agent with non-ASCII or control characters is refused (every request would fail)', () => {
  for (const [ua, found] of [['certstream (ops@exämple.org)', '"ä"'], ['a\tb', '"\\t"'], ['a\u0007b', '"\\u0007"']] as const) {
    const r = validateConfig({ 'user-agent': ua });
    assert.ok(!r.ok, ua);
    assert.equal(r.problems.length, 1);
    assert.match(r.problems[0]!, /^--user-agent: ".*" may hold only printable ASCII \(found /);
    assert.ok(r.problems[0]!.endsWith(`(found ${found})`), r.problems[0]);
    assert.ok(!r.problems[0]!.includes('\n'));
  }
  assert.ok(validateConfig({ 'user-agent': 'certstream-server/1.0 (+https://example.org; ops@example.org)' }).ok);
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
    'allow-empty': 'perhaps',
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
    '--partial-tile-delay: "-1" is not a number of seconds from 0 to 3600',
    '--log-list-refresh: "hourly" is not 0 (off) or a number of seconds from 10 to 604800',
    '--reset-state: "maybe" is not true or false',
  ]);
});

test('NATS options: URLs checked, --role needs --nats, --nats needs a replay window, stream names bounded', () => {
  const problems = (raw: Record<string, string>) => {
    const r = validateConfig(raw);
    return r.ok ? [] : r.problems;
  };
  assert.deepEqual(problems({ nats: 'nats://127.0.0.1:4222,nats://10.0.0.2:4222', role: 'edge' }), []);
  assert.deepEqual(problems({ nats: 'http://127.0.0.1:4222' }), ['--nats: "http://127.0.0.1:4222" is not a nats://host:port URL']);
  assert.deepEqual(problems({ role: 'ingest' }), ['--role ingest: needs --nats (without NATS one process does everything)']);
  assert.deepEqual(problems({ role: 'worker', nats: 'nats://h:4222' }), ['--role: "worker" is not one of all, ingest, edge']);
  assert.deepEqual(problems({ nats: 'nats://h:4222', 'replay-window': '0' }), ['--nats: needs a replay window (--replay-window > 0): the JetStream stream is the window']);
  assert.deepEqual(problems({ nats: 'nats://h:4222', 'nats-stream': 'a.b' }), ['--nats-stream: "a.b" is not 1-32 of A-Z a-z 0-9 _ -']);
});
