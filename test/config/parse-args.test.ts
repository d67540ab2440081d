import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseServerArgs } from '../../src/config/parse-args.js';
import { isCertstreamError } from '../../src/errors.js';

function config(argv: string[], env: Record<string, string> = {}) {
  const r = parseServerArgs(argv, env);
  assert.equal(r.kind, 'config');
  if (r.kind !== 'config') throw new Error('unreachable');
  return r.config;
}

function problems(argv: string[], env: Record<string, string> = {}): string[] {
  try {
    parseServerArgs(argv, env);
  } catch (err) {
    assert.ok(isCertstreamError(err, 'CONFIG_ERR_INVALID'));
    return err.message.split('\n');
  }
  assert.fail('expected a configuration error');
}

test('flags win over CERTSTREAM_* which win over PORT', () => {
  assert.equal(config([], { PORT: '5000' }).port, 5000);
  assert.equal(config([], { PORT: '5000', CERTSTREAM_PORT: '6000' }).port, 6000);
  assert.equal(config(['--port', '7000'], { PORT: '5000', CERTSTREAM_PORT: '6000' }).port, 7000);
  assert.equal(config(['--port=0']).port, 0);
});

test('every contract flag is read from its environment variable', () => {
  const c = config([], {
    CERTSTREAM_HOST: '127.0.0.1',
    CERTSTREAM_LOG_LIST: 'http://127.0.0.1:9/list.json',
    CERTSTREAM_STATE_DIR: '/tmp/s',
    CERTSTREAM_BACKFILL: '12',
    CERTSTREAM_POLL_INTERVAL: '0.5',
    CERTSTREAM_USER_AGENT: 'ua (ops@example.com)',
    CERTSTREAM_HEARTBEAT_INTERVAL: '2',
    CERTSTREAM_LOGS_INCLUDE: 'argon  xenon',
    CERTSTREAM_PER_MESSAGE_DEFLATE: 'true',
    CERTSTREAM_ALLOW_EMPTY: 'yes',
  });
  assert.equal(c.allowEmpty, true);
  assert.equal(c.host, '127.0.0.1');
  assert.equal(c.logList, 'http://127.0.0.1:9/list.json');
  assert.equal(c.stateDir, '/tmp/s');
  assert.equal(c.backfill, 12);
  assert.equal(c.pollIntervalMs, 500);
  assert.equal(c.userAgent, 'ua (ops@example.com)');
  assert.equal(c.heartbeatIntervalMs, 2000);
  assert.deepEqual(c.logsInclude.map((r) => r.source), ['argon', 'xenon']);
  assert.equal(c.perMessageDeflate, true);
});

test('list flags repeat; boolean flags negate', () => {
  const c = config(['--logs-exclude', 'a', '--logs-exclude', 'b', '--no-per-message-deflate'], { CERTSTREAM_PER_MESSAGE_DEFLATE: '1' });
  assert.deepEqual(c.logsExclude.map((r) => r.source), ['a', 'b']);
  assert.equal(c.perMessageDeflate, false);
});

test('unknown flags and bad values are all reported together', () => {
  const lines = problems(['--port', 'abc', '--poll-interval', '0', '--bogus', '1']);
  assert.equal(lines.length, 3, lines.join(' | '));
  assert.ok(lines.some((l) => /bogus/.test(l)));
  assert.ok(lines.some((l) => l.startsWith('--port:')));
  assert.ok(lines.some((l) => l.startsWith('--poll-interval:')));
});

test('a bad environment value is reported under its flag', () => {
  assert.deepEqual(problems([], { CERTSTREAM_BACKFILL: 'lots' }), ['--backfill: "lots" is not an integer (entries) from 0 to 1000000000']);
});

test('a repeated single-value flag, a missing value and an unreadable log list file are problems', () => {
  assert.equal(problems(['--port', '1', '--port', '2']).length, 1);
  assert.equal(problems(['--port']).length, 1);
  assert.deepEqual(problems(['--log-list', '/nonexistent/list.json']), ['--log-list: cannot read the file "/nonexistent/list.json"']);
});

test('--help and --version ask the caller to print and exit', () => {
  const help = parseServerArgs(['--help'], {});
  assert.equal(help.kind, 'exit');
  if (help.kind === 'exit') assert.match(help.text, /--heartbeat-interval/);
  const version = parseServerArgs(['--version'], {});
  assert.equal(version.kind, 'exit');
  if (version.kind === 'exit') assert.match(version.text, /^\d+\.\d+\.\d+/);
});
