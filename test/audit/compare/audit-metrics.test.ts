import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createAuditMetrics, serveMetrics } from '../../../src/audit/compare/audit-metrics.js';
import { Comparator } from '../../../src/audit/compare/comparator.js';

const T0 = 1_800_000_000_000;

test('feed_up and downtime are computed at scrape time; counters follow events and judgements', async () => {
  const cmp = new Comparator();
  let now = T0;
  const m = createAuditMetrics(cmp, { a: 'local', b: 'public' }, () => now);
  cmp.connect('a', T0);
  cmp.connect('b', T0);
  m.onEvent('a', { ev: 'entry', t: T0, log: 'l', index: 1 });
  m.onEvent('b', { ev: 'range', t: T0, log: 'l', lo: 1, hi: 10 });
  cmp.disconnect('b', T0 + 1_000, 1006);
  m.onEvent('b', { ev: 'disconnect', t: T0 + 1_000, code: 1006 });
  m.onJudge([{ log: 'l', union: 10, missed_by_a: 9, missed_by_b: 0 }]);
  now = T0 + 31_000;
  const server = await serveMetrics(m.registry, 0);
  try {
    const text = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
    assert.match(text, /^certaudit_feed_up\{feed="local"\} 1$/m);
    assert.match(text, /^certaudit_feed_up\{feed="public"\} 0$/m);
    assert.match(text, /^certaudit_downtime_seconds_total\{feed="public"\} 30$/m);
    assert.match(text, /^certaudit_downtime_seconds_total\{feed="local"\} 0$/m);
    assert.match(text, /^certaudit_disconnects_total\{feed="public"\} 1$/m);
    assert.match(text, /^certaudit_entries_total\{feed="local"\} 1$/m);
    assert.match(text, /^certaudit_entries_total\{feed="public"\} 10$/m);
    assert.match(text, /^certaudit_missed_entries_total\{feed="local",log="l"\} 9$/m);
    assert.match(text, /^certaudit_compared_entries_total\{log="l"\} 10$/m);
    // The outage goes on: the next scrape counts it further, without counting twice.
    now = T0 + 41_000;
    const again = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
    assert.match(again, /^certaudit_downtime_seconds_total\{feed="public"\} 40$/m);
    const other = await fetch(`http://127.0.0.1:${server.port}/other`);
    assert.equal(other.status, 404);
    await other.text();
  } finally {
    await server.close();
  }
});
