import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_LOCAL_URL, DEFAULT_PUBLIC_URL, resolveFeedSpec } from '../../../src/audit/feeds/feed-source.js';
import { parseCompareArgs } from '../../../src/cli/certaudit/compare-command.js';
import { isCertstreamError } from '../../../src/errors.js';

test('FEED arguments: aliases and their environment overrides, URLs, ct, recordings', () => {
  assert.deepEqual(resolveFeedSpec('local'), { kind: 'ws', url: DEFAULT_LOCAL_URL });
  assert.deepEqual(resolveFeedSpec('public'), { kind: 'ws', url: DEFAULT_PUBLIC_URL });
  assert.equal(DEFAULT_LOCAL_URL, 'ws://127.0.0.1:4000/');
  assert.equal(DEFAULT_PUBLIC_URL, 'wss://certstream.calidog.io/');
  const env = { CERTAUDIT_LOCAL_URL: 'ws://10.0.0.5:4000/', CERTAUDIT_PUBLIC_URL: 'wss://feed.example/' };
  assert.deepEqual(resolveFeedSpec('local', env), { kind: 'ws', url: 'ws://10.0.0.5:4000/' });
  assert.deepEqual(resolveFeedSpec('public', env), { kind: 'ws', url: 'wss://feed.example/' });
  assert.deepEqual(resolveFeedSpec('WSS://Feed.example/full-stream'), { kind: 'ws', url: 'WSS://Feed.example/full-stream' });
  assert.deepEqual(resolveFeedSpec('ct'), { kind: 'ct' });
  assert.deepEqual(resolveFeedSpec('./runs/local.ndjson'), { kind: 'recording', path: './runs/local.ndjson' });
  for (const bad of ['', 'https://certstream.calidog.io/', 'ws://']) {
    assert.throws(() => resolveFeedSpec(bad), (err: unknown) => isCertstreamError(err, 'AUDIT_ERR_USAGE'), bad);
  }
});

test('compare options: defaults and the ct log list from the environment', async () => {
  const parsed = await parseCompareArgs(['--a', 'local', '--b', 'ct'], { CERTAUDIT_LOG_LIST: '/etc/certaudit/list.json' });
  assert.ok('values' in parsed);
  const o = parsed.values;
  assert.equal(o.graceSeconds, 60);
  assert.equal(o.durationSeconds, undefined);
  assert.equal(o.json, false);
  assert.equal(o.metricsPort, undefined);
  assert.equal(o.metricsHost, '127.0.0.1');
  assert.equal(o.logList, '/etc/certaudit/list.json');
  const flags = await parseCompareArgs(
    ['--a', 'x.ndjson', '--b', 'y.ndjson', '--grace', '0', '--duration', '1.5', '--json', '--log-list', 'l.json'],
    {},
  );
  assert.ok('values' in flags);
  assert.deepEqual([flags.values.graceSeconds, flags.values.durationSeconds, flags.values.json, flags.values.logList], [0, 1.5, true, 'l.json']);
  const bad = await parseCompareArgs(['--a', 'x.ndjson', '--b', 'y.ndjson', '--metrics-port', '9101'], {});
  assert.deepEqual(bad, { usage: '--metrics-port needs live feeds' });
});
