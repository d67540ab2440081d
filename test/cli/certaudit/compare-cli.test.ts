/**
 * `certaudit compare` and `certaudit record` as a user runs them: spawned processes, real sockets on
 * 127.0.0.1, exit codes 0 / 2 / 69 and exact report numbers against fake feeds with known losses.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { FakeCtLog } from '../../../fake-ct-log/fake-ct-log.js';
import { FakeFeed } from '../../audit/support/fake-feed.js';
import { metricValue, runCli, untilMetric } from '../../audit/support/cli.js';
import { pollUntil, withDeadline } from '../../audit/support/deadline.js';

const LOG1 = 'https://ct.example.net/log1/';
const LOG2 = 'https://ct.example.net/log2/';

function countEntries(text: string): number {
  return text.split('\n').filter((l) => l.startsWith('{"ev":"entry"')).length;
}

/** Re-reads a file until `pred` holds for its text; rejects after the deadline. */
async function untilFile(path: string, pred: (text: string) => boolean): Promise<void> {
  await pollUntil(async () => pred(await readFile(path, 'utf8').catch(() => '')), `${path} to satisfy ${pred.toString()}`, undefined, 50);
}

/** A port nobody listens on: bind port 0, note it, close. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

test('usage errors exit 2 with one line on stderr', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['compare'], /--a FEED and --b FEED are required/],
    [['compare', '--a', 'local', '--b', 'public', '--bogus', '1'], /Unknown argument: bogus/],
    [['compare', '--a', 'local', '--b', 'rec.ndjson'], /a recording can only be compared with another recording/],
    [['compare', '--a', 'http://x/', '--b', 'local'], /must be ws:\/\/ or wss:\/\//],
    [['compare', '--a', 'local', '--b', 'public', '--duration', '0'], /--duration must be a number of seconds from 1 to 1209600/],
    // Node clamps a timer above 2^31-1 ms to 1 ms: this once exited 69 at once instead of being refused.
    [['compare', '--a', 'local', '--b', 'public', '--duration', '3000000'], /--duration must be a number of seconds from 1 to 1209600 \(14 days\), got '3000000'/],
    [['compare', '--a', 'local', '--b', 'public', '--grace', 'soon'], /--grace must be a number of seconds from 0 to 3600/],
    [['compare', '--a', 'local', '--b', 'public', '--grace', '86400'], /--grace must be a number of seconds from 0 to 3600/],
    [['record', '--feed', 'local', '--out', 'x.ndjson', '--duration', '3000000'], /--duration must be a number of seconds from 1 to 1209600/],
    // A directory given as a recording once printed an EISDIR stack trace (exit 70).
    [['compare', '--a', 'test', '--b', 'test'], /test is not a recording file/],
    [['compare', '--a', 'local', '--b', 'public', '--metrics-port', '70000'], /--metrics-port must be a port/],
    [['compare', '--a', 'ct', '--b', 'ct'], /at most one feed can be ct/],
    [['record', '--feed', 'local'], /--feed FEED and --out FILE are required/],
    [['record', '--feed', 'x.ndjson', '--out', 'y'], /--feed must be a live feed/],
  ];
  await Promise.all(
    cases.map(async ([args, re]) => {
      const run = runCli(args);
      assert.equal(await run.exited, 2, args.join(' '));
      const lines = run.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, `one line: ${run.stderr}`);
      assert.match(lines[0], re);
      assert.equal(run.stdout, '');
    }),
  );
});

test('--help prints the usage and exits 0', async () => {
  const run = runCli(['compare', '--help']);
  assert.equal(await run.exited, 0);
  assert.match(run.stdout, /^Usage: certaudit compare --a FEED --b FEED/);
  assert.match(run.stdout, /--metrics-port/);
});

test('a feed that can never be reached exits 69 and names it', async () => {
  const fb = await FakeFeed.start();
  try {
    const port = await closedPort();
    const run = runCli(['compare', '--a', `ws://127.0.0.1:${port}/`, '--b', fb.url, '--duration', '1']);
    assert.equal(await run.exited, 69);
    assert.match(run.stderr, new RegExp(`feed a \\(ws://127.0.0.1:${port}/\\) could not be reached: .*ECONNREFUSED`));
    assert.doesNotMatch(run.stderr, /feed b/);
    assert.equal(run.stdout, '');
    const rec = runCli(['record', '--feed', `ws://127.0.0.1:${port}/`, '--out', join(tmpdir(), `certaudit-unreach-${port}.ndjson`), '--duration', '1']);
    assert.equal(await rec.exited, 69);
    await rm(join(tmpdir(), `certaudit-unreach-${port}.ndjson`), { force: true });
  } finally {
    await fb.close();
  }
});

test('compare with drops and an outage: the JSON report equals the ground truth, metrics follow', async () => {
  const fa = await FakeFeed.start();
  const fb = await FakeFeed.start();
  const run = runCli(['compare', '--a', fa.url, '--b', fb.url, '--json', '--grace', '1', '--metrics-port', '0']);
  try {
    const port = Number(/"port":(\d+)/.exec(await run.stderrLine(/metrics listening/))![1]);
    await fa.until(() => fa.accepted >= 1);
    await fb.until(() => fb.accepted >= 1);
    let sentA = 0;
    let sentB = 0;
    for (let i = 0; i < 100; i++) {
      if (i !== 50 && i !== 51) {
        await fb.send(LOG1, i);
        sentB++;
      }
      if (i % 10 !== 5) {
        await fa.send(LOG1, i);
        sentA++;
      }
    }
    await untilMetric(port, 'certaudit_entries_total', { feed: fb.url }, (v) => v === sentB);
    await untilMetric(port, 'certaudit_entries_total', { feed: fa.url }, (v) => v === sentA);
    // Outage of feed a: wait until its client has noticed and tried again, then b delivers 100..119.
    await fa.closeClients('terminate');
    await fa.until(() => fa.refused >= 1);
    for (let i = 100; i < 120; i++) {
      await fb.send(LOG1, i);
      sentB++;
    }
    await untilMetric(port, 'certaudit_entries_total', { feed: fb.url }, (v) => v === sentB);
    await untilMetric(port, 'certaudit_feed_up', { feed: fa.url }, (v) => v === 0);
    fa.reopen();
    await fa.until(() => fa.accepted >= 2);
    for (let i = 120; i < 130; i++) {
      await fb.send(LOG2, i);
      await fa.send(LOG2, i);
      sentA++;
      sentB++;
    }
    await untilMetric(port, 'certaudit_entries_total', { feed: fa.url }, (v) => v === sentA);
    // Everything is judged once the union (130) has been counted; then stop it like systemd does.
    await untilMetric(port, 'certaudit_compared_entries_total', {}, (v) => v === 130);
    assert.equal(await metricValue(port, 'certaudit_missed_entries_total', { feed: fa.url }), 30);
    assert.equal(await metricValue(port, 'certaudit_disconnects_total', { feed: fa.url }), 1);
    run.child.kill('SIGTERM');
    assert.equal(await run.exited, 0, run.stderr);
    const report = JSON.parse(run.stdout);
    assert.deepEqual(report.logs, [
      { log: 'ct.example.net/log1', seen_a: 90, seen_b: 118, union: 120, missed_by_a: 30, missed_by_b: 2, gaps_a: 10, gaps_b: 2, reconnect_loss_a: 20, reconnect_loss_b: 0 },
      { log: 'ct.example.net/log2', seen_a: 10, seen_b: 10, union: 10, missed_by_a: 0, missed_by_b: 0, gaps_a: 0, gaps_b: 0, reconnect_loss_a: 0, reconnect_loss_b: 0 },
    ]);
    assert.deepEqual(report.totals, { union: 130, missed_by_a: 30, missed_by_b: 2, miss_ratio_a: 0.230769, miss_ratio_b: 0.015385, reconnect_loss_a: 20, reconnect_loss_b: 0 });
    assert.equal(report.feeds.a.connects, 2);
    assert.equal(report.feeds.a.disconnects, 1);
    assert.ok(report.feeds.a.downtime_seconds > 0);
    assert.equal(report.feeds.a.messages, sentA);
    assert.deepEqual(report.feeds.b, { url: fb.url, connects: 1, disconnects: 0, downtime_seconds: 0, messages: sentB });
    assert.ok(report.window.end > report.window.start);
  } finally {
    run.child.kill('SIGKILL');
    await fa.close();
    await fb.close();
  }
});

test('record two feeds, then compare the recordings: the table shows the exact misses', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'certaudit-cli-'));
  const fa = await FakeFeed.start();
  const fb = await FakeFeed.start();
  const ra = runCli(['record', '--feed', fa.url, '--out', join(dir, 'a.ndjson')]);
  const rb = runCli(['record', '--feed', fb.url, '--out', join(dir, 'b.ndjson')]);
  try {
    await fa.until(() => fa.accepted >= 1);
    await fb.until(() => fb.accepted >= 1);
    for (let i = 0; i < 50; i++) {
      await fb.send(LOG1, i);
      if (i !== 7) await fa.send(LOG1, i);
    }
    await fa.heartbeat();
    // The recorders flush at least every second: wait until both files hold everything sent.
    await untilFile(join(dir, 'a.ndjson'), (t) => t.includes('"heartbeat"') && countEntries(t) === 49);
    await untilFile(join(dir, 'b.ndjson'), (t) => countEntries(t) === 50);
    ra.child.kill('SIGTERM');
    rb.child.kill('SIGTERM');
    assert.equal(await ra.exited, 0, ra.stderr);
    assert.equal(await rb.exited, 0, rb.stderr);
    assert.match(ra.stderr, /49 entries written/);
    const lines = (await readFile(join(dir, 'a.ndjson'), 'utf8')).trimEnd().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((l) => l.ev).filter((e) => e !== 'entry'), ['start', 'connect', 'heartbeat', 'end']);
    const cmp = runCli(['compare', '--a', join(dir, 'a.ndjson'), '--b', join(dir, 'b.ndjson'), '--grace', '0']);
    assert.equal(await cmp.exited, 0, cmp.stderr);
    assert.match(cmp.stdout, /^ct\.example\.net\/log1\s+50\s+49\s+50\s+1 \(2\.00%\)\s+0 \(0\.00%\)\s+1\s+0\s+0\s+0$/m);
    assert.match(cmp.stdout, new RegExp(`a = ${fa.url}`));
    const json = runCli(['compare', '--a', join(dir, 'a.ndjson'), '--b', join(dir, 'b.ndjson'), '--grace', '0', '--json']);
    assert.equal(await json.exited, 0);
    assert.equal(JSON.parse(json.stdout).totals.missed_by_a, 1);
    const bad = runCli(['compare', '--a', join(dir, 'a.ndjson'), '--b', join(dir, 'missing.ndjson')]);
    assert.equal(await bad.exited, 2);
    assert.match(bad.stderr, /cannot read recording/);
  } finally {
    ra.child.kill('SIGKILL');
    rb.child.kill('SIGKILL');
    await fa.close();
    await fb.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('compare --b ct against a fake CT log: the misses of the feed, from the logs\' heads', async () => {
  const fake = await FakeCtLog.start({ rfc6962Logs: 1, staticLogs: 1, initialSize: 100 });
  const feed = await FakeFeed.start();
  const headsRead = new Promise<void>((resolve) => {
    const off = fake.onRequest(() => {
      if (fake.requests.sth >= 1 && fake.requests.checkpoint >= 1) {
        off();
        resolve();
      }
    });
  });
  const run = runCli(['compare', '--a', feed.url, '--b', 'ct', '--json', '--grace', '0', '--metrics-port', '0'], {
    CERTAUDIT_LOG_LIST: fake.logListUrl,
  });
  try {
    const port = Number(/"port":(\d+)/.exec(await run.stderrLine(/metrics listening/))![1]);
    await headsRead;
    await feed.until(() => feed.accepted >= 1);
    const rfc = fake.logs.find((l) => l.kind === 'rfc6962')!;
    const tiled = fake.logs.find((l) => l.kind === 'static')!;
    fake.append(30, rfc.url);
    fake.append(10, tiled.url);
    let sent = 0;
    for (let i = 100; i < 130; i++) {
      if (i === 111) continue;
      await feed.send(rfc.url, i);
      sent++;
    }
    await untilMetric(port, 'certaudit_entries_total', { feed: feed.url }, (v) => v === sent);
    run.child.kill('SIGINT');
    assert.equal(await run.exited, 0, run.stderr);
    const report = JSON.parse(run.stdout);
    const byLog = Object.fromEntries(report.logs.map((l: { log: string }) => [l.log, l]));
    assert.equal(byLog['127.0.0.1:' + new URL(rfc.url).port + new URL(rfc.url).pathname.replace(/\/$/, '')].missed_by_a, 1);
    // The tiled log grew by 10 and the feed delivered none of them: all missed.
    assert.deepEqual(report.totals, { union: 40, missed_by_a: 11, missed_by_b: 0, miss_ratio_a: 0.275, miss_ratio_b: 0, reconnect_loss_a: 0, reconnect_loss_b: 0 });
    assert.equal(report.feeds.b.url, `ct (${fake.logListUrl})`);
    assert.equal(report.logs.length, 2);
    assert.equal(report.logs[0].missed_by_a, 10, 'the log the feed never delivered is the worst');
  } finally {
    run.child.kill('SIGKILL');
    await feed.close();
    await fake.close();
  }
});

test('a short --duration run is judged in full: misses, outliers and broken frames show, it says what it judged', async () => {
  const fa = await FakeFeed.start();
  const fb = await FakeFeed.start();
  // Default grace (60 s) and a run much shorter than it: this once reported 0 everywhere.
  const run = runCli(['compare', '--a', fa.url, '--b', fb.url, '--duration', '8', '--json']);
  try {
    await fa.until(() => fa.accepted >= 1);
    await fb.until(() => fb.accepted >= 1);
    for (let i = 0; i < 100; i++) {
      await fb.send(LOG1, i);
      if (i === 37) continue; // a drops one entry
      if (i === 60) {
        // a sends one frame with trailing garbage: it is not an entry.
        const frame = JSON.stringify({ message_type: 'certificate_update', data: { cert_index: 60, source: { name: 'n', url: LOG1 } } });
        await fa.sendRaw(`${frame}garbage`);
        continue;
      }
      await fa.send(LOG1, i);
      if (i === 50) await fa.send(LOG1, 999_999_999); // and one outlier index
    }
    assert.equal(await withDeadline(run.exited, 'certaudit compare --duration 8 to exit', 60_000), 0, run.stderr);
    const report = JSON.parse(run.stdout);
    assert.deepEqual(report.logs, [
      { log: 'ct.example.net/log1', seen_a: 98, seen_b: 100, union: 100, missed_by_a: 2, missed_by_b: 0, gaps_a: 2, gaps_b: 0, reconnect_loss_a: 0, reconnect_loss_b: 0 },
    ]);
    assert.equal(report.judged, true);
    assert.deepEqual(report.anomalies, [{ log: 'ct.example.net/log1', a: 1, b: 0 }]);
    assert.deepEqual(report.ignored.a, { too_many_logs: 0, implausible_index: 1 });
    assert.ok(report.window.end - report.window.start >= 8 && report.window.end - report.window.start < 9, JSON.stringify(report.window));
  } finally {
    run.child.kill('SIGKILL');
    await fa.close();
    await fb.close();
  }
});

test('a run that judged nothing says so', async () => {
  const fa = await FakeFeed.start();
  const fb = await FakeFeed.start();
  const run = runCli(['compare', '--a', fa.url, '--b', fb.url, '--duration', '2']);
  try {
    assert.equal(await withDeadline(run.exited, 'certaudit compare --duration 2 to exit', 60_000), 0, run.stderr);
    assert.match(run.stdout, /^Nothing was judged: no log was delivered by both feeds \(the zeros measure nothing\)\.$/m);
    assert.match(run.stdout, /judged in full/);
  } finally {
    run.child.kill('SIGKILL');
    await fa.close();
    await fb.close();
  }
});

test('after a --duration window the feeds are followed for late entries; SIGINT cuts that short with the report', async () => {
  const fa = await FakeFeed.start();
  const fb = await FakeFeed.start();
  const run = runCli(['compare', '--a', fa.url, '--b', fb.url, '--duration', '4', '--grace', '600', '--json', '--metrics-port', '0']);
  try {
    const port = Number(/"port":(\d+)/.exec(await run.stderrLine(/metrics listening/))![1]);
    await fa.until(() => fa.accepted >= 1);
    await fb.until(() => fb.accepted >= 1);
    for (let i = 0; i < 50; i++) {
      await fb.send(LOG1, i);
      if (i < 40) await fa.send(LOG1, i); // a lags behind b
    }
    await run.stderrLine(/the 4 s window is over; following the feeds up to 600 s more/);
    // A late delivery inside the window still counts.
    await fa.send(LOG1, 40);
    await untilMetric(port, 'certaudit_entries_total', { feed: fa.url }, (v) => v === 41);
    run.child.kill('SIGINT');
    assert.equal(await withDeadline(run.exited, 'certaudit compare to exit after SIGINT', 30_000), 0, run.stderr);
    const report = JSON.parse(run.stdout);
    assert.equal(report.logs[0].union, 50);
    assert.equal(report.logs[0].missed_by_a, 9);
  } finally {
    run.child.kill('SIGKILL');
    await fa.close();
    await fb.close();
  }
});
