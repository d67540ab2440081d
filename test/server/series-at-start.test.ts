// Every series of a fixed label set exists from start-up with the value 0 (interface.md, "Metrics"):
// each stream, each disconnect reason, each error kind and update type of each followed log. A series
// that appears only with its first event makes increase() miss that event and dashboards show no data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { polledAll, startFake, startReal, tempDir, testConfig, whenFake } from './server-harness.js';

test('a fresh server exports every fixed series at 0 before any event', { timeout: 60_000 }, async (t) => {
  const fake = await startFake(t, { rfc6962Logs: 1, staticLogs: 1, initialSize: 10 });
  const server = await startReal(testConfig(fake, await tempDir(t)));
  t.after(() => server.close());
  await whenFake(fake, () => polledAll(server));
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const value = (series: string) => {
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
  };
  const expected: string[] = [];
  for (const stream of ['lite', 'full', 'domains']) {
    expected.push(`certstream_clients{stream="${stream}"}`, `certstream_client_dropped_messages_total{stream="${stream}"}`);
    expected.push(`certstream_replayed_messages_total{stream="${stream}"}`, `certstream_resume_truncated_messages_total{stream="${stream}"}`);
    expected.push(`certstream_durable_lag_messages{stream="${stream}"}`, `certstream_filtered_clients{stream="${stream}"}`);
  }
  for (const reason of ['client', 'slow', 'ping_timeout', 'error', 'protocol', 'shutdown', 'takeover']) expected.push(`certstream_client_disconnects_total{reason="${reason}"}`);
  for (const reason of ['missing', 'unknown', 'limit', 'address']) expected.push(`certstream_auth_failures_total{reason="${reason}"}`);
  for (const result of ['ok', 'error']) expected.push(`certstream_log_list_refreshes_total{result="${result}"}`);
  for (const l of fake.logs) {
    for (const kind of ['http', 'rate_limited', 'parse', 'timeout']) expected.push(`certstream_log_errors_total{log="${l.url}",kind="${kind}"}`);
    // No entry streamed yet (no backfill, the logs are still): both update types at 0.
    for (const type of ['X509LogEntry', 'PrecertLogEntry']) expected.push(`certstream_entries_total{log="${l.url}",update_type="${type}"}`);
  }
  expected.push('certstream_durable_subscriptions_refused_total', 'certstream_filter_sets', 'certstream_filter_entries_matched_total');
  expected.push('certstream_cursor_flush_errors_total', 'certstream_positions_flush_errors_total', 'certstream_replay_window_append_errors_total', 'certstream_replay_window_corrupt_records_total');
  const missing = expected.filter((s) => value(s) === undefined);
  assert.deepEqual(missing, [], 'series absent at start-up');
  const nonZero = expected.filter((s) => value(s) !== 0);
  assert.deepEqual(nonZero, [], 'series not 0 at start-up');
});
