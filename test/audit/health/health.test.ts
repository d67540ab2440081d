// Pure verdicts of `certaudit health`: every observation maps to the documented Nagios state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateHealth, frameMessageType, parseHealthzBody, type HealthzLog, type WsObservation } from '../../../src/audit/health/health.js';
import { parseHealthArgs } from '../../../src/cli/certaudit/health-command.js';

const limits = { maxLag: 100, timeoutSeconds: 5 };

function log(name: string, lag: number): HealthzLog {
  return {
    url: `https://${name}.example/`,
    name,
    kind: 'rfc6962',
    tree_size: 1000 + lag,
    next_index: 1000,
    lag,
    last_success: 1_700_000_000,
    last_error: null,
  };
}

function answer(status: string, logs: HealthzLog[] = [log('argon', 3)], statusCode = status === 'down' ? 503 : 200) {
  return { kind: 'answer' as const, statusCode, body: JSON.stringify({ status, uptime_seconds: 12.5, clients: 2, logs }) };
}

const frame: WsObservation = { kind: 'frame', data: '{"message_type":"heartbeat","timestamp":1.5}', afterSeconds: 0.05 };

test('healthy server: OK with status, lag, clients and the first frame in the line', () => {
  const v = evaluateHealth(answer('ok'), frame, limits);
  assert.equal(v.state, 'OK');
  assert.equal(v.exitCode, 0);
  assert.deepEqual(v.problems, []);
  assert.match(v.summary, /^CERTSTREAM OK - status ok, 1 logs, max lag 3 \(argon\), 2 clients, heartbeat after 0\.05s \| /);
  assert.match(v.summary, /max_lag=3;100 clients=2 uptime=13s first_frame=0\.050s;;5$/);
  assert.equal(v.websocket.message_type, 'heartbeat');
});

test('degraded status is a WARNING', () => {
  const v = evaluateHealth(answer('degraded'), frame, limits);
  assert.equal(v.state, 'WARNING');
  assert.equal(v.exitCode, 1);
  assert.deepEqual(v.problems, ['status degraded']);
});

test('a log over --max-lag is a WARNING naming the log; exactly at the limit is fine', () => {
  const v = evaluateHealth(answer('ok', [log('argon', 100), log('xenon', 101)]), frame, limits);
  assert.equal(v.state, 'WARNING');
  assert.deepEqual(v.problems, ['lag over 100: xenon (101)']);
  assert.equal(v.healthz.max_lag, 101);
  assert.equal(v.healthz.max_lag_log, 'xenon');
});

test('no followed logs is a WARNING', () => {
  const v = evaluateHealth(answer('ok', []), frame, limits);
  assert.equal(v.state, 'WARNING');
  assert.deepEqual(v.problems, ['no logs followed']);
});

test('status down is CRITICAL even when the WebSocket works', () => {
  const v = evaluateHealth(answer('down'), frame, limits);
  assert.equal(v.state, 'CRITICAL');
  assert.equal(v.exitCode, 2);
});

test('no frame within the timeout, a refused upgrade or a closed socket are CRITICAL', () => {
  const cases: WsObservation[] = [
    { kind: 'timeout' },
    { kind: 'error', error: 'upgrade refused with HTTP 404' },
    { kind: 'closed', code: 1013, reason: 'try again later' },
  ];
  for (const ws of cases) {
    const v = evaluateHealth(answer('ok'), ws, limits);
    assert.equal(v.state, 'CRITICAL', ws.kind);
    assert.equal(v.websocket.ok, false);
  }
  assert.match(evaluateHealth(answer('ok'), { kind: 'timeout' }, limits).summary, /no WebSocket frame within 5s/);
});

test('/healthz unreachable or silent is CRITICAL', () => {
  assert.equal(evaluateHealth({ kind: 'unreachable', error: 'connect ECONNREFUSED 127.0.0.1:1' }, { kind: 'error', error: 'x' }, limits).state, 'CRITICAL');
  assert.equal(evaluateHealth({ kind: 'timeout' }, frame, limits).state, 'CRITICAL');
});

test('an answer that is not the contract JSON is UNKNOWN', () => {
  const bad = [
    { kind: 'answer' as const, statusCode: 200, body: '<html>' },
    { kind: 'answer' as const, statusCode: 200, body: '{"status":"fine","uptime_seconds":1,"clients":0,"logs":[]}' },
    { kind: 'answer' as const, statusCode: 200, body: '{"status":"ok","uptime_seconds":1,"clients":0}' },
    { kind: 'answer' as const, statusCode: 404, body: 'not found' },
  ];
  for (const h of bad) {
    const v = evaluateHealth(h, frame, limits);
    assert.equal(v.state, 'UNKNOWN', h.body);
    assert.equal(v.exitCode, 3);
  }
  assert.equal(evaluateHealth(answer('ok'), { kind: 'frame', data: 'garbage', afterSeconds: 0.1 }, limits).state, 'UNKNOWN');
});

test('worst wins: CRITICAL over UNKNOWN over WARNING, problems listed worst first', () => {
  const v = evaluateHealth({ kind: 'answer', statusCode: 200, body: 'nope' }, { kind: 'timeout' }, limits);
  assert.equal(v.state, 'CRITICAL');
  assert.equal(v.problems.length, 2);
  assert.match(v.problems[0] ?? '', /no WebSocket frame/);
  const w = evaluateHealth(answer('degraded', [log('argon', 500)]), { kind: 'frame', data: '[]', afterSeconds: 0 }, limits);
  assert.equal(w.state, 'UNKNOWN');
  assert.equal(w.problems.length, 3);
});

test('the summary stays one line whatever the server put in its answer', () => {
  const l = { ...log('evil\nname', 500) };
  const v = evaluateHealth(answer('ok', [l]), frame, limits);
  assert.equal(v.summary.includes('\n'), false);
  assert.match(v.summary, /evil name/);
});

test('parseHealthzBody and frameMessageType', () => {
  const ok = parseHealthzBody(answer('ok').body);
  assert.ok('body' in ok);
  assert.equal(ok.body.logs[0]?.name, 'argon');
  assert.deepEqual(parseHealthzBody('[]'), { invalid: 'not a JSON object' });
  assert.equal(frameMessageType('{"message_type":"certificate_update","data":{}}'), 'certificate_update');
  assert.equal(frameMessageType('{"data":[]}'), undefined);
});

test('parseHealthArgs: defaults, values, and every usage problem at once', () => {
  const d = parseHealthArgs([]);
  assert.ok('options' in d);
  assert.deepEqual(d.options, { url: 'http://127.0.0.1:4000', timeoutSeconds: 10, maxLag: 10_000, json: false });
  const v = parseHealthArgs(['--url', 'http://10.0.0.5:4100/', '--timeout', '2.5', '--max-lag', '0', '--json']);
  assert.ok('options' in v);
  assert.deepEqual(v.options, { url: 'http://10.0.0.5:4100', timeoutSeconds: 2.5, maxLag: 0, json: true });
  const bad = parseHealthArgs(['--url', 'ftp://x', '--timeout', '0', '--max-lag=-1']);
  assert.ok('usage' in bad);
  assert.match(bad.usage, /--url.*--timeout.*--max-lag/);
  assert.ok('usage' in parseHealthArgs(['--bogus']));
  assert.ok('help' in parseHealthArgs(['--help']));
});
