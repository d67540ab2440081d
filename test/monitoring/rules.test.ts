/**
 * The Prometheus rules in monitoring/ pass `promtool check rules` and their unit tests
 * (`promtool test rules`), and every metric they use is one the code actually exports.
 * promtool comes from Debian's `prometheus` package (.ci/run installs it): under CI its absence is a
 * failure; on a developer machine the promtool tests are skipped with a visible message.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createAuditMetrics } from '../../src/audit/compare/audit-metrics.js';
import { Comparator } from '../../src/audit/compare/comparator.js';
import { createServerMetrics } from '../../src/metrics/server-metrics.js';

const RULES = 'monitoring/certstream.rules.yml';
const RULE_TESTS = 'monitoring/certstream.rules.test.yml';

function promtool(args: string[]): { status: number | null; output: string } | undefined {
  const r = spawnSync('promtool', args, { encoding: 'utf8' });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

function requirePromtool(t: { skip(message: string): void }): boolean {
  if (promtool(['--version']) !== undefined) return true;
  const message = 'promtool not found (install Debian\'s "prometheus" package): rules not checked';
  if (process.env.CI) assert.fail(`${message}, and CI is set`);
  process.stderr.write(`SKIP: ${message}\n`);
  t.skip(message);
  return false;
}

test('promtool check rules accepts the rules file', (t) => {
  if (!requirePromtool(t)) return;
  const r = promtool(['check', 'rules', RULES])!;
  assert.equal(r.status, 0, r.output);
  assert.match(r.output, /SUCCESS: \d+ rules found/);
});

test('promtool test rules passes the rule unit tests', (t) => {
  if (!requirePromtool(t)) return;
  const r = promtool(['test', 'rules', RULE_TESTS])!;
  assert.equal(r.status, 0, r.output);
  assert.match(r.output, /SUCCESS/);
});

test('every metric the rules use is exported by certaudit or certstream-server', async () => {
  const used = new Set(readFileSync(RULES, 'utf8').match(/\b(certaudit|certstream)_[a-z_]+\b/g) ?? []);
  assert.ok(used.size >= 8, `rules use ${[...used].join(', ')}`);
  const exported = new Set<string>();
  for (const m of await createAuditMetrics(new Comparator()).registry.getMetricsAsJSON()) exported.add(m.name);
  for (const m of await createServerMetrics({ processMetrics: false }).registry.getMetricsAsJSON()) exported.add(m.name);
  for (const name of used) assert.ok(exported.has(name), `${name} is used by the rules but not exported`);
  // The contract's certaudit names, exactly.
  for (const name of [
    'certaudit_feed_up', 'certaudit_disconnects_total', 'certaudit_downtime_seconds_total', 'certaudit_entries_total',
    'certaudit_missed_entries_total', 'certaudit_compared_entries_total',
  ]) assert.ok(exported.has(name), name);
});

test('the Grafana dashboard is valid JSON and queries only exported metrics and the recorded rules', async () => {
  const dash = JSON.parse(readFileSync('monitoring/certstream.grafana.json', 'utf8')) as {
    uid: string;
    panels: Array<{ type: string; targets?: Array<{ expr: string }> }>;
  };
  assert.equal(dash.uid, 'certstream-certaudit');
  const exprs = dash.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
  assert.ok(exprs.length >= 8);
  const recorded = new Set(readFileSync(RULES, 'utf8').match(/(?<=record: )[a-z_:0-9]+/g) ?? []);
  const exported = new Set<string>();
  for (const m of await createAuditMetrics(new Comparator()).registry.getMetricsAsJSON()) exported.add(m.name);
  for (const m of await createServerMetrics({ processMetrics: false }).registry.getMetricsAsJSON()) exported.add(m.name);
  for (const e of exprs) {
    for (const name of e.match(/\b(certaudit|certstream)[a-z_:0-9]*(?=[{[ )]|$)/g) ?? []) {
      assert.ok(exported.has(name) || recorded.has(name), `${name} in "${e}"`);
    }
  }
});
