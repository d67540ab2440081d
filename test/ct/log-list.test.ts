import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseLogList, selectLogs, FOLLOWED_STATES } from '../../src/ct/log-list.js';
import { isCertstreamError } from '../../src/errors.js';

const dir = fileURLToPath(new URL('../fixtures/loglist/', import.meta.url));
const load = (name: string): unknown => JSON.parse(readFileSync(dir + name, 'utf8'));
const v85 = load('log_list_v85.92.json');
const all = load('all_logs_list_v78.2.json');

/** The list timestamps (see SOURCES.md), used as "now". */
const V85_TIME = Date.parse('2026-05-29T13:42:48Z');
const V78_TIME = Date.parse('2025-12-13T12:54:29Z');

interface RawLog {
  description: string;
  url?: string;
  monitoring_url?: string;
  state?: Record<string, unknown>;
  temporal_interval?: { end_exclusive?: string };
}

/** An independent count of the logs that should be followed, straight from the JSON. */
function expectedFollowed(doc: unknown, now: number): RawLog[] {
  const out: RawLog[] = [];
  for (const op of (doc as { operators: Array<{ logs?: RawLog[]; tiled_logs?: RawLog[] }> }).operators) {
    for (const log of [...(op.logs ?? []), ...(op.tiled_logs ?? [])]) {
      const state = log.state ? Object.keys(log.state)[0] : undefined;
      if (state !== 'usable' && state !== 'qualified' && state !== 'readonly') continue;
      const end = log.temporal_interval?.end_exclusive;
      if (end !== undefined && Date.parse(end) <= now) continue;
      out.push(log);
    }
  }
  return out;
}

/** A copy of a JSON document, so tests can corrupt it without touching the shared fixture. */
const clone = <T>(v: T): T => structuredClone(v);

function expectListError(doc: unknown, pattern: RegExp): void {
  assert.throws(
    () => parseLogList(doc),
    (err: unknown) => {
      assert.ok(isCertstreamError(err, 'CONFIG_ERR_LOG_LIST'), `expected CONFIG_ERR_LOG_LIST, got ${String(err)}`);
      assert.match(err.message, /^log list: /);
      assert.doesNotMatch(err.message, /\n/, 'one line');
      assert.match(err.message, pattern);
      return true;
    },
  );
}

test('v85.92 list: 35 RFC 6962 + 21 tiled entries parsed; 52 followed at the list timestamp', () => {
  const entries = parseLogList(v85);
  assert.equal(entries.length, 56);
  assert.equal(entries.filter((e) => e.kind === 'rfc6962').length, 35);
  assert.equal(entries.filter((e) => e.kind === 'static').length, 21);
  const count = (s: string) => entries.filter((e) => e.state === s).length;
  assert.equal(count('usable'), 48);
  assert.equal(count('readonly'), 4);
  assert.equal(count('retired'), 4);

  const logs = selectLogs(entries, { now: V85_TIME });
  assert.equal(logs.length, 52);
  assert.equal(logs.length, expectedFollowed(v85, V85_TIME).length);
  assert.ok(logs.every((l) => FOLLOWED_STATES.includes(l.state)));
  assert.ok(logs.every((l) => l.monitoringUrl.endsWith('/')));
  assert.equal(new Set(logs.map((l) => l.url)).size, logs.length, 'no duplicate URLs');
});

test('readonly logs carry final_tree_head.tree_size as finalTreeSize; others do not', () => {
  const logs = selectLogs(parseLogList(v85), { now: V85_TIME });
  const ro = logs.filter((l) => l.state === 'readonly');
  assert.deepEqual(
    ro.map((l) => [l.name, l.finalTreeSize]),
    [
      ["Sectigo 'Mammoth2026h1'", 65240567],
      ["Sectigo 'Mammoth2026h2'", 57634084],
      ["Sectigo 'Sabre2026h1'", 88744201],
      ["Sectigo 'Sabre2026h2'", 68732791],
    ],
  );
  assert.ok(logs.filter((l) => l.state !== 'readonly').every((l) => l.finalTreeSize === undefined));
});

test('retired logs are skipped (v85.92 has 4)', () => {
  const entries = parseLogList(v85);
  const retired = entries.filter((e) => e.state === 'retired').map((e) => e.monitoringUrl);
  assert.equal(retired.length, 4);
  const urls = new Set(selectLogs(entries, { now: V85_TIME }).map((l) => l.url));
  for (const u of retired) assert.ok(!urls.has(u), `${u} is retired but selected`);
});

test('tiled_logs: monitoring_url is the identity and read base, submission_url kept', () => {
  const logs = selectLogs(parseLogList(v85), { now: V85_TIME });
  const statics = logs.filter((l) => l.kind === 'static');
  assert.equal(statics.length, 21);
  const syc = statics.find((l) => l.name === "Let's Encrypt 'Sycamore2026h1'");
  assert.ok(syc);
  assert.equal(syc.url, 'https://mon.sycamore.ct.letsencrypt.org/2026h1/');
  assert.equal(syc.monitoringUrl, 'https://mon.sycamore.ct.letsencrypt.org/2026h1/');
  assert.equal(syc.submissionUrl, 'https://log.sycamore.ct.letsencrypt.org/2026h1/');
  assert.equal(syc.operator, "Let's Encrypt");
  assert.equal(syc.logId, 'pcl4kl1XRheChw3YiWYLXFVki30AQPLsB2hR0YhpGfc=');
  assert.ok(statics.every((l) => typeof l.submissionUrl === 'string' && l.submissionUrl.startsWith('https://')));
  assert.ok(logs.filter((l) => l.kind === 'rfc6962').every((l) => l.submissionUrl === undefined));
});

test('all-logs v78.2 list: pending, rejected, retired and state-less entries are skipped', () => {
  const entries = parseLogList(all);
  assert.equal(entries.length, 247);
  assert.equal(entries.filter((e) => e.kind === 'static').length, 60);
  const count = (s: string | null) => entries.filter((e) => e.state === s).length;
  assert.equal(count('rejected'), 109);
  assert.equal(count('pending'), 5);
  assert.equal(count('retired'), 4);
  assert.equal(count(null), 58);
  assert.equal(count('qualified'), 13);

  const logs = selectLogs(entries, { now: V78_TIME });
  assert.equal(logs.length, 71);
  assert.equal(logs.length, expectedFollowed(all, V78_TIME).length);
  const states = new Set(logs.map((l) => l.state));
  assert.deepEqual([...states].sort(), ['qualified', 'readonly', 'usable']);
  // A qualified tiled log is followed.
  assert.ok(logs.some((l) => l.kind === 'static' && l.state === 'qualified'));
  // Pending Raio logs are not.
  assert.ok(!logs.some((l) => l.name.includes('Raio')));
});

test('logs whose temporal_interval.end_exclusive is not in the future are skipped (injected now)', () => {
  const entries = parseLogList(all);
  const later = Date.parse('2026-05-29T13:42:48Z');
  const logs = selectLogs(entries, { now: later });
  assert.equal(logs.length, 54);
  assert.equal(logs.length, expectedFollowed(all, later).length);
  assert.ok(!logs.some((l) => l.name === "Let's Encrypt 'Oak2025h2'"));

  // The boundary is exclusive: at exactly end_exclusive the log is over.
  const oak = entries.find((e) => e.description === "Let's Encrypt 'Oak2025h2'");
  assert.ok(oak?.endExclusive !== undefined);
  const at = (now: number) => selectLogs([oak], { now }).length;
  assert.equal(at(oak.endExclusive - 1), 1);
  assert.equal(at(oak.endExclusive), 0);
  // Far in the future nothing with an interval is left.
  const remaining = selectLogs(entries, { now: Date.parse('2100-01-01T00:00:00Z') });
  for (const l of remaining) {
    assert.equal(entries.find((e) => e.monitoringUrl === l.url)?.endExclusive, undefined, l.name);
  }
});

test('include / exclude regexes match the URL or the description', () => {
  const entries = parseLogList(v85);
  const inc = selectLogs(entries, { now: V85_TIME, include: [/sycamore/] });
  assert.deepEqual(
    inc.map((l) => l.name),
    ["Let's Encrypt 'Sycamore2026h1'", "Let's Encrypt 'Sycamore2026h2'", "Let's Encrypt 'Sycamore2027h1'", "Let's Encrypt 'Sycamore2027h2'"],
  );
  // Description match (the URL of Google logs does not contain "Argon").
  const argon = selectLogs(entries, { now: V85_TIME, include: [/Argon/] });
  assert.ok(argon.length > 0);
  assert.ok(argon.every((l) => l.name.includes('Argon') && !l.url.includes('Argon')));
  // Several include patterns are OR-ed.
  const both = selectLogs(entries, { now: V85_TIME, include: [/sycamore/, /Argon/] });
  assert.equal(both.length, inc.length + argon.length);
  // Exclude drops matching logs from the rest.
  const allLogs = selectLogs(entries, { now: V85_TIME });
  const noLe = selectLogs(entries, { now: V85_TIME, exclude: [/letsencrypt\.org/] });
  const le = allLogs.filter((l) => l.url.includes('letsencrypt.org'));
  assert.ok(le.length > 0);
  assert.equal(noLe.length, allLogs.length - le.length);
  // Exclude wins over include.
  assert.deepEqual(selectLogs(entries, { now: V85_TIME, include: [/sycamore/], exclude: [/2027/] }).map((l) => l.name), [
    "Let's Encrypt 'Sycamore2026h1'",
    "Let's Encrypt 'Sycamore2026h2'",
  ]);
  // An empty include list means "all".
  assert.equal(selectLogs(entries, { now: V85_TIME, include: [] }).length, allLogs.length);
});

test('include / exclude with a global (/g) regex give the same answer every time', () => {
  const entries = parseLogList(v85);
  const a = selectLogs(entries, { now: V85_TIME, include: [/sycamore/g] }).map((l) => l.url);
  assert.equal(a.length, 4);
  const b = selectLogs(entries, { now: V85_TIME, exclude: [/sycamore/g] }).map((l) => l.url);
  assert.equal(b.length, 52 - 4);
});

test('a log listed twice is followed once', () => {
  const doc = clone(v85) as { operators: Array<{ logs: unknown[] }> };
  doc.operators[0].logs.push(doc.operators[0].logs[0]);
  const logs = selectLogs(parseLogList(doc), { now: V85_TIME });
  assert.equal(logs.length, 52);
});

test('malformed lists fail with CONFIG_ERR_LOG_LIST and a one-line message naming the place', () => {
  expectListError(null, /no "operators" array/);
  expectListError([], /no "operators" array/);
  expectListError({ version: '1' }, /no "operators" array/);
  expectListError({ operators: [42] }, /operators\[0\] is not an object/);
  expectListError({ operators: [{ name: 'x', logs: {} }] }, /operators\[0\]\.logs is not an array/);
  expectListError({ operators: [{ name: 'x', tiled_logs: [7] }] }, /operators\[0\]\.tiled_logs\[0\] is not an object/);

  const base = () => clone(v85) as { operators: Array<{ logs: Array<Record<string, unknown>>; tiled_logs: Array<Record<string, unknown>> }> };
  let d = base();
  delete d.operators[0].logs[0].url;
  expectListError(d, /operators\[0\]\.logs\[0\]: "url" must be a non-empty string/);
  d = base();
  d.operators[0].logs[0].description = '';
  expectListError(d, /"description" must be a non-empty string/);
  d = base();
  d.operators[0].logs[0].url = 'ftp://ct.example/';
  expectListError(d, /is not http\(s\)/);
  d = base();
  d.operators[0].logs[0].state = 'usable';
  expectListError(d, /"state" is not an object/);
  d = base();
  d.operators[0].logs[0].state = { usable: {}, retired: {} };
  expectListError(d, /exactly one key/);
  d = base();
  d.operators[0].logs[0].state = { readonly: { timestamp: '2026-01-01T00:00:00Z' } };
  expectListError(d, /readonly log without final_tree_head\.tree_size/);
  d = base();
  d.operators[0].logs[0].temporal_interval = { start_inclusive: 'x', end_exclusive: 'not a date' };
  expectListError(d, /bad temporal_interval\.end_exclusive/);
  const tiledOp = base().operators.findIndex((o) => Array.isArray(o.tiled_logs) && o.tiled_logs.length > 0);
  d = base();
  delete d.operators[tiledOp].tiled_logs[0].submission_url;
  expectListError(d, /tiled_logs\[0\]: "submission_url" must be a non-empty string/);
  d = base();
  delete d.operators[tiledOp].tiled_logs[0].monitoring_url;
  expectListError(d, /"monitoring_url" must be a non-empty string/);
});
