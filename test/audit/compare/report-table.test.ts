import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Comparator } from '../../../src/audit/compare/comparator.js';
import { buildReport, reportExtras } from '../../../src/audit/compare/report.js';
import { formatReportTable, formatSeconds, formatUtc, percent } from '../../../src/audit/compare/report-table.js';

const T0 = Date.UTC(2026, 10, 26, 1, 2, 3);

test('readable times, durations and percentages', () => {
  assert.equal(formatUtc(T0 + 999), '2026-11-26 01:02:03Z');
  assert.equal(formatSeconds(0), '0 seconds');
  assert.equal(formatSeconds(0.25), '0.25 seconds');
  assert.equal(formatSeconds(3723), '1 hour 2 minutes 3 seconds');
  assert.equal(formatSeconds(90_000), '1 day 1 hour');
  assert.equal(percent(0.123456), '12.35%');
});

test('the table lists worst logs first, totals and the connection history', () => {
  const c = new Comparator();
  c.connect('a', T0);
  c.connect('b', T0);
  // Events in time order. Log 'good' reaches feed a through another path (say a second connection).
  for (let i = 0; i < 100; i++) {
    if (i === 50) c.disconnect('a', T0 + 50, 1006, 'abnormal closure');
    if (i === 80) c.connect('a', T0 + 80);
    c.entry('b', 'good', i, T0 + i);
    c.entry('a', 'good', i, T0 + i);
    c.entry('b', 'bad', i, T0 + i);
    if (i < 50 || i >= 80) c.entry('a', 'bad', i, T0 + i);
    if (i === 1) c.entry('a', 'only-a', 1, T0 + 1);
  }
  c.judge(T0 + 1000);
  // Feed b has not yet been connected for a whole grace since this log arrived: not compared yet.
  c.entry('a', 'late-a', 7, T0 + 1001);
  const report = buildReport(c, { a: 'ws://127.0.0.1:4000/', b: 'wss://certstream.calidog.io/' }, T0, T0 + 65_000);
  const text = formatReportTable(report, reportExtras(c, 60));
  const lines = text.split('\n');
  assert.match(lines[0], /^certaudit compare: 2026-11-26 01:02:03Z → 2026-11-26 01:03:08Z \(1 minute 5 seconds;/);
  const bad = lines.findIndex((l) => l.startsWith('bad '));
  const good = lines.findIndex((l) => l.startsWith('good '));
  assert.ok(bad > 0 && good > bad, 'worst log first');
  assert.match(lines[bad], /^bad\s+100\s+70\s+100\s+30 \(30\.00%\)\s+0 \(0\.00%\)\s+30\s+0\s+30\s+0$/);
  // b was connected for the whole grace after only-a arrived and never delivered it: b missed it.
  assert.match(text, /^only-a\s+1\s+1\s+0\s+0 \(0\.00%\)\s+1 \(100\.00%\)/m);
  assert.match(text, /^TOTAL\s+201\s+171\s+200\s+30 \(14\.93%\)/m);
  assert.match(text, /Only feed a delivered \(not compared\): late-a/);
  assert.match(text, /Feed a: 0 messages, 2 connects, 1 disconnects, down 0\.03 seconds/);
  assert.match(text, /01:02:03Z {2}disconnect \(1006 abnormal closure\)/);
  assert.match(text, /connect after 0\.03 seconds down/);
});
