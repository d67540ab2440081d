import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Comparator, type FeedId, type LogCounts } from '../../../src/audit/compare/comparator.js';
import { buildReport, reportExtras } from '../../../src/audit/compare/report.js';
import { formatReportTable } from '../../../src/audit/compare/report-table.js';
import { lcg as rng } from '../../support/prng.js';

const T0 = 1_800_000_000_000;

function counts(c: Comparator, log: string): LogCounts {
  const found = c.logCounts().find((l) => l.log === log);
  assert.ok(found, `log ${log} compared`);
  return found;
}

/** Applies events in time order, as live and replayed runs do (the comparator relies on it). */
function inTimeOrder(events: Array<[number, () => void]>): void {
  for (const [, run] of events.sort((x, y) => x[0] - y[0])) run();
}

test('a hand-worked scenario: misses, gaps, reconnect loss and the window start', () => {
  const c = new Comparator();
  const ev: Array<[number, () => void]> = [];
  const at = (t: number, run: () => void) => ev.push([t, run]);
  at(T0, () => c.connect('a', T0));
  at(T0, () => c.connect('b', T0));
  // Feed b starts at index 100, feed a at 98: the window starts at 100.
  at(T0 + 10, () => c.entry('a', 'L', 98, T0 + 10));
  at(T0 + 20, () => c.entry('a', 'L', 99, T0 + 20));
  for (let i = 100; i < 120; i++) at(T0 + 1000 + i, () => c.entry('b', 'L', i, T0 + 1000 + i));
  // a delivers 100..104, is down from T0+1105 to T0+1115 (b delivers 105..114 at T0+1105..T0+1114),
  // misses 105..114, then delivers 115..119 and additionally 112 (a late duplicate-free re-delivery).
  for (let i = 100; i < 105; i++) at(T0 + 1000 + i + 1, () => c.entry('a', 'L', i, T0 + 1000 + i + 1));
  at(T0 + 1104.5, () => c.disconnect('a', T0 + 1104.5, 1006, 'connection reset'));
  at(T0 + 1115, () => c.connect('a', T0 + 1115));
  for (let i = 115; i < 120; i++) at(T0 + 1000 + i + 1, () => c.entry('a', 'L', i, T0 + 1000 + i + 1));
  at(T0 + 1121, () => c.entry('a', 'L', 112, T0 + 1121));
  // b loses 121, which a has.
  at(T0 + 1122, () => c.entry('a', 'L', 121, T0 + 1122));
  at(T0 + 1123, () => c.entry('b', 'L', 122, T0 + 1123));
  at(T0 + 1124, () => c.entry('a', 'L', 122, T0 + 1124));
  inTimeOrder(ev);
  c.judge(T0 + 10_000);
  const l = counts(c, 'L');
  // window 100..122; b: 100..119, 122 (21); a: 100..104, 112, 115..119, 121, 122 (13)
  assert.deepEqual(l, {
    log: 'L',
    seen_a: 13,
    seen_b: 21,
    union: 22,
    missed_by_a: 9, // 105..111, 113, 114
    missed_by_b: 1, // 121
    gaps_a: 10, // 105..111, 113, 114, 120
    gaps_b: 2, // 120, 121
    reconnect_loss_a: 9, // all of a's misses were delivered by b between T0+1105 and T0+1114 (112 came later)
    reconnect_loss_b: 0,
  });
  const r = buildReport(c, { a: 'ws://a/', b: 'ws://b/' }, T0, T0 + 2000);
  assert.equal(r.feeds.a.disconnects, 1);
  assert.equal(r.feeds.a.connects, 2);
  assert.equal(r.feeds.a.downtime_seconds, 0.0105);
  assert.deepEqual(r.totals, {
    union: 22, missed_by_a: 9, missed_by_b: 1, miss_ratio_a: 0.409091, miss_ratio_b: 0.045455,
    reconnect_loss_a: 9, reconnect_loss_b: 0,
  });
});

test('entries newer than the grace are not judged; judging twice does not double count', () => {
  const c = new Comparator();
  for (let i = 0; i < 10; i++) {
    c.entry('a', 'L', i, T0 + i * 1000);
    if (i !== 3 && i !== 8) c.entry('b', 'L', i, T0 + i * 1000 + 500);
  }
  const deltas = c.judge(T0 + 5000); // indices 0..5 first arrived by then
  assert.deepEqual(deltas, [{ log: 'L', union: 6, missed_by_a: 0, missed_by_b: 1 }]);
  assert.equal(counts(c, 'L').union, 6);
  assert.deepEqual(c.judge(T0 + 5000), []);
  c.judge(T0 + 60_000);
  const l = counts(c, 'L');
  assert.equal(l.union, 10);
  assert.equal(l.missed_by_b, 2);
  assert.equal(l.gaps_b, 2);
  // A late delivery of an already judged index does not change anything.
  c.entry('b', 'L', 3, T0 + 61_000);
  c.judge(T0 + 120_000);
  assert.deepEqual(counts(c, 'L'), l);
});

test('the ct feed: ranges of appended entries as the reference set', () => {
  const c = new Comparator();
  c.range('b', 'L', 1000, 1499, T0);
  for (let i = 990; i < 1500; i++) if (i % 100 !== 7) c.entry('a', 'L', i, T0 + 10 + i);
  c.range('b', 'L', 1500, 1599, T0 + 5000);
  c.judge(T0 + 100_000);
  const l = counts(c, 'L');
  assert.equal(l.union, 600);
  assert.equal(l.seen_b, 600);
  assert.equal(l.missed_by_a, 5 + 100, 'five dropped indices plus the 100 a never got');
  assert.equal(l.gaps_a, 5, 'holes only up to the highest index a saw');
  assert.equal(l.missed_by_b, 0);
});

test('a log only one feed delivers is not compared and its memory is released', () => {
  const c = new Comparator();
  for (let i = 0; i < 1000; i += 2) c.entry('a', 'solo', i, T0 + i);
  assert.ok(c.footprint() > 1000);
  c.judge(T0 + 10_000);
  assert.ok(c.footprint() < 10, `footprint ${c.footprint()}`);
  assert.deepEqual(c.logCounts(), []);
  assert.deepEqual(c.uncomparedLogs(), { a: ['solo'], b: [] });
});

test('random feeds: incremental judging equals a brute-force model, with bounded memory', () => {
  let lossSeen = 0;
  for (let seed = 1; seed <= 20; seed++) {
    const r = rng(seed);
    const graceMs = 5000;
    const c = new Comparator();
    type Ev = { t: number; run: () => void };
    const events: Ev[] = [];
    const logs = ['l1', 'l2', 'l3'];
    const delivered: Record<FeedId, Map<string, Map<number, number>>> = { a: new Map(), b: new Map() };
    const down: Record<FeedId, Array<[number, number]>> = { a: [], b: [] };
    // Each feed has a few outages; entries whose arrival falls into one are lost.
    for (const f of ['a', 'b'] as FeedId[]) {
      let t = T0 + 2000;
      for (let k = 0; k < 3; k++) {
        t += 5000 + Math.floor(r() * 20_000);
        const len = 500 + Math.floor(r() * 3000);
        down[f].push([t, t + len]);
        t += len;
      }
      events.push({ t: T0, run: () => c.connect(f, T0) });
      for (const [s, e] of down[f]) {
        events.push({ t: s, run: () => c.disconnect(f, s, 1006) });
        events.push({ t: e, run: () => c.connect(f, e) });
      }
    }
    const isDown = (f: FeedId, t: number) => down[f].some(([s, e]) => t >= s && t < e);
    for (const log of logs) {
      const start = Math.floor(r() * 1000);
      for (let i = start; i < start + 2000; i++) {
        const appended = T0 + (i - start) * 40;
        for (const f of ['a', 'b'] as FeedId[]) {
          if (f === 'a' && i < start + 5) continue; // a starts a little later
          if (r() < 0.03) continue; // random drop
          const t = appended + Math.floor(r() * (f === 'a' ? 300 : 1500));
          if (isDown(f, t)) continue;
          let m = delivered[f].get(log);
          if (!m) delivered[f].set(log, (m = new Map()));
          if (!m.has(i)) m.set(i, t);
          events.push({ t, run: () => c.entry(f, log, i, t) });
        }
      }
    }
    events.sort((x, y) => x.t - y.t);
    let nextJudge = T0 + 1000;
    let peak = 0;
    for (const e of events) {
      while (e.t >= nextJudge) {
        c.judge(nextJudge - graceMs);
        peak = Math.max(peak, c.footprint());
        nextJudge += 1000;
      }
      e.run();
    }
    const end = events[events.length - 1].t;
    c.judge(end);
    assert.ok(peak < 6000, `memory stays bounded (peak ${peak} numbers)`);
    for (const log of logs) {
      const A = delivered.a.get(log)!;
      const B = delivered.b.get(log)!;
      const ws = Math.max(Math.min(...A.keys()), Math.min(...B.keys()));
      const top = Math.max(...A.keys(), ...B.keys());
      const maxA = Math.max(...A.keys());
      const maxB = Math.max(...B.keys());
      const exp = { log, seen_a: 0, seen_b: 0, union: 0, missed_by_a: 0, missed_by_b: 0, gaps_a: 0, gaps_b: 0, reconnect_loss_a: 0, reconnect_loss_b: 0 };
      for (let i = ws; i <= top; i++) {
        const a = A.has(i);
        const b = B.has(i);
        if (a) exp.seen_a++;
        if (b) exp.seen_b++;
        if (a || b) exp.union++;
        if (b && !a) {
          exp.missed_by_a++;
          if (isDown('a', B.get(i)!)) exp.reconnect_loss_a++;
        }
        if (a && !b) {
          exp.missed_by_b++;
          if (isDown('b', A.get(i)!)) exp.reconnect_loss_b++;
        }
        if (!a && i <= maxA) exp.gaps_a++;
        if (!b && i <= maxB) exp.gaps_b++;
      }
      assert.deepEqual(counts(c, log), exp, `seed ${seed} log ${log}`);
      lossSeen += exp.reconnect_loss_a + exp.reconnect_loss_b;
    }
  }
  assert.ok(lossSeen > 100, `the scenarios exercise reconnect loss (${lossSeen})`);
});

test('with a reference side (ct), a log the other feed never delivers is missed entirely', () => {
  const c = new Comparator({ reference: 'b' });
  c.range('b', 'L1', 500, 599, T0);
  c.range('b', 'L2', 10, 19, T0);
  for (let i = 520; i < 600; i++) c.entry('a', 'L1', i, T0 + i); // a joined late: 500..519 missed too
  c.judge(T0 + 10_000);
  assert.deepEqual(
    c.logCounts().map((l) => [l.log, l.union, l.missed_by_a, l.gaps_a]),
    [['L1', 100, 20, 20], ['L2', 10, 10, 0]],
  );
});

test('one outlier cert_index is an anomaly, not the new frontier; a confirmed jump is believed', () => {
  const c = new Comparator();
  c.connect('a', T0);
  c.connect('b', T0);
  for (let i = 0; i < 200; i++) {
    c.entry('a', 'log', i, T0 + i);
    c.entry('b', 'log', i, T0 + i);
    if (i === 100) c.entry('a', 'log', 999_999_999, T0 + i);
  }
  c.judge(T0 + 10_000);
  const l = counts(c, 'log');
  assert.deepEqual([l.union, l.seen_a, l.missed_by_a, l.missed_by_b, l.gaps_a, l.gaps_b], [200, 200, 0, 0, 0, 0]);
  assert.deepEqual(c.ignored.a, { too_many_logs: 0, implausible_index: 1 });
  assert.deepEqual(c.anomalies(), [{ log: 'log', a: 1, b: 0 }]);
  // Both feeds resume far ahead (say after certaudit's own network was away): after three frames
  // near each other the jump is real, and those frames count as entries again.
  const far = 50_000_000;
  for (let i = far; i < far + 10; i++) {
    c.entry('a', 'log', i, T0 + 20_000 + i - far);
    c.entry('b', 'log', i, T0 + 20_000 + i - far);
  }
  c.judge(T0 + 40_000);
  const after = counts(c, 'log');
  assert.equal(after.missed_by_a, 0);
  assert.equal(after.seen_a, after.seen_b);
  assert.deepEqual(c.ignored.a, { too_many_logs: 0, implausible_index: 1 }, 'the confirmed frames are not anomalies');
});

test('at most maxLogs logs are tracked: frames of further logs are refused and counted', () => {
  const c = new Comparator({ maxLogs: 3 });
  // A hostile feed names a new log in every frame.
  for (let i = 0; i < 1000; i++) c.entry('a', `https://evil.example/${i}`, i, T0 + i);
  c.entry('b', 'https://evil.example/1', 1, T0 + 1000);
  assert.deepEqual(c.ignored.a, { too_many_logs: 997, implausible_index: 0 });
  assert.equal(c.ignored.b.too_many_logs, 0, 'a tracked log is still accepted');
  assert.equal(c.logLimitReached, true);
  const report = buildReport(c, { a: 'a', b: 'b' }, T0, T0 + 2000);
  assert.deepEqual(report.log_limit, { max: 3, reached: true });
  assert.equal(report.ignored.a.too_many_logs, 997);
  assert.match(
    formatReportTable(report, reportExtras(c, 60)),
    /^Log limit reached: only 3 logs are compared; entries of further logs refused: a 997, b 0\.$/m,
  );
});

test('a log one feed never delivers counts as missed once the other was connected for the grace', () => {
  const grace = 5_000;
  const run = (restartAt: number): LogCounts | undefined => {
    // restartAt: certaudit (re)starts at this time; both feeds connect then.
    const c = new Comparator();
    c.connect('a', restartAt);
    c.connect('b', restartAt);
    for (let t = restartAt; t < restartAt + 20_000; t += 100) {
      const i = (t - T0) / 100;
      c.entry('b', 'both', i, t);
      c.entry('a', 'both', i, t);
      c.entry('b', 'only-b', i, t); // feed a never streams this log
      c.judge(t - grace);
    }
    c.judge(restartAt + 20_000 - grace);
    return c.logCounts().find((l) => l.log === 'only-b');
  };
  for (const start of [T0, T0 + 3_600_000]) {
    const l = run(start);
    assert.ok(l, `only-b is compared (run starting at +${start - T0} ms)`);
    assert.equal(l.missed_by_a, l.union);
    assert.ok(l.union >= 140, `most of the 200 entries are judged: ${l.union}`);
    assert.equal(l.missed_by_b, 0);
  }
  // While the other feed is down the log is not held against it.
  const c = new Comparator();
  c.connect('b', T0);
  for (let i = 0; i < 100; i++) c.entry('b', 'only-b', i, T0 + i * 100);
  c.judge(T0 + 60_000);
  assert.deepEqual(c.logCounts(), []);
});

test('judgeWindow judges a short run in full, up to each log\'s limit at the window end', () => {
  const c = new Comparator();
  c.connect('a', T0);
  c.connect('b', T0);
  for (let i = 0; i < 100; i++) {
    c.entry('b', 'log', i, T0 + i * 10);
    if (i % 20 !== 3) c.entry('a', 'log', i, T0 + i * 10);
  }
  // With a 60 s grace, a 1 s run judges nothing the usual way.
  assert.deepEqual(c.judge(T0 + 1_000 - 60_000), []);
  const limits = c.windowLimits();
  assert.deepEqual([...limits], [['log', 99]]);
  assert.equal(c.pastWindow(limits), true);
  // Entries past the window arriving later are not judged; late ones inside it are.
  c.entry('b', 'log', 100, T0 + 1_500);
  c.entry('a', 'log', 3, T0 + 1_600);
  c.judgeWindow(limits, T0 + 2_000 - 60_000);
  const l = counts(c, 'log');
  assert.deepEqual([l.union, l.seen_a, l.missed_by_a, l.missed_by_b], [100, 96, 4, 0]);
});
