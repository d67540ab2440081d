/**
 * The human-readable `certaudit compare` report (pure): worst logs first, totals, miss ratios as
 * percentages, and each feed's connection history with readable times and durations (date-fns).
 * Times are printed in UTC so two operators comparing reports see the same clock.
 */
// Per-function imports: the package index loads every date-fns function (~15 MB of RSS).
import { formatDuration } from 'date-fns/formatDuration';
import { intervalToDuration } from 'date-fns/intervalToDuration';
import type { FeedId } from './comparator.js';
import type { AuditReport, ReportExtras } from './report.js';

/** "2026-11-26 01:02:03Z" for ms since the epoch (UTC, second precision). */
export function formatUtc(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('T', ' ').replace('.000Z', 'Z');
}

/** "1 hour 2 minutes 3 seconds"; "0 seconds" for zero; sub-second values as "0.25 seconds". */
export function formatSeconds(seconds: number): string {
  if (seconds < 1) return `${Math.round(seconds * 100) / 100} seconds`;
  const d = intervalToDuration({ start: 0, end: Math.round(seconds) * 1000 });
  return formatDuration(d, { format: ['days', 'hours', 'minutes', 'seconds'] }) || '0 seconds';
}

/** A ratio as a percentage with two decimals: 0.1234 → "12.34%". */
export function percent(ratio: number): string {
  return `${(ratio * 100).toFixed(2)}%`;
}

function pad(cells: string[][]): string[] {
  const widths: number[] = [];
  for (const row of cells) row.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return cells.map((row) =>
    row.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd(),
  );
}

/** Renders the report as text lines (ends with a newline). */
export function formatReportTable(r: AuditReport, extras: ReportExtras): string {
  const lines: string[] = [];
  const window = r.window.end - r.window.start;
  lines.push(
    `certaudit compare: ${formatUtc(r.window.start * 1000)} → ${formatUtc(r.window.end * 1000)} ` +
      (extras.judgedInFull
        ? `(${formatSeconds(window)}; judged in full, the feeds followed up to ${extras.graceSeconds} s longer)`
        : `(${formatSeconds(window)}; entries newer than ${extras.graceSeconds} s at the end not judged)`),
  );
  lines.push(`  a = ${r.feeds.a.url}`);
  lines.push(`  b = ${r.feeds.b.url}`);
  lines.push('');
  const head = ['log', 'union', 'seen a', 'seen b', 'missed by a', 'missed by b', 'gaps a', 'gaps b', 'reconn. loss a', 'reconn. loss b'];
  const rows = r.logs.map((l) => {
    const ra = l.union === 0 ? 0 : l.missed_by_a / l.union;
    const rb = l.union === 0 ? 0 : l.missed_by_b / l.union;
    return [
      l.log, String(l.union), String(l.seen_a), String(l.seen_b),
      `${l.missed_by_a} (${percent(ra)})`, `${l.missed_by_b} (${percent(rb)})`,
      String(l.gaps_a), String(l.gaps_b), String(l.reconnect_loss_a), String(l.reconnect_loss_b),
    ];
  });
  const t = r.totals;
  const totalRow = [
    'TOTAL', String(t.union),
    String(r.logs.reduce((n, l) => n + l.seen_a, 0)), String(r.logs.reduce((n, l) => n + l.seen_b, 0)),
    `${t.missed_by_a} (${percent(t.miss_ratio_a)})`, `${t.missed_by_b} (${percent(t.miss_ratio_b)})`,
    String(r.logs.reduce((n, l) => n + l.gaps_a, 0)), String(r.logs.reduce((n, l) => n + l.gaps_b, 0)),
    String(t.reconnect_loss_a), String(t.reconnect_loss_b),
  ];
  if (r.logs.length > 0) lines.push(...pad([head, ...rows, totalRow]));
  if (!r.judged) {
    lines.push(
      r.logs.length === 0
        ? 'Nothing was judged: no log was delivered by both feeds (the zeros measure nothing).'
        : 'Nothing was judged: no entry of a compared log fell into the judged window (the zeros measure nothing).',
    );
  }
  if (r.log_limit.reached) {
    lines.push(
      `Log limit reached: only ${r.log_limit.max} logs are compared; entries of further logs refused: ` +
        `a ${r.ignored.a.too_many_logs}, b ${r.ignored.b.too_many_logs}.`,
    );
  }
  if (r.anomalies.length > 0) {
    lines.push(
      `Implausible cert_index jumps ignored: ${r.anomalies.map((x) => `${x.log} (a ${x.a}, b ${x.b})`).join(', ')}`,
    );
  }
  for (const id of ['a', 'b'] as FeedId[]) {
    const only = extras.uncompared[id].filter((l) => !extras.uncompared[id === 'a' ? 'b' : 'a'].includes(l));
    if (only.length > 0) lines.push(`Only feed ${id} delivered (not compared): ${only.join(', ')}`);
  }
  lines.push('');
  for (const id of ['a', 'b'] as FeedId[]) {
    const f = r.feeds[id];
    lines.push(
      `Feed ${id}: ${f.messages} messages, ${f.connects} connects, ${f.disconnects} disconnects, ` +
        `down ${formatSeconds(f.downtime_seconds)}`,
    );
    let downSince: number | undefined;
    for (const e of extras.history[id]) {
      let detail = '';
      if (e.kind === 'disconnect') {
        detail = ` (${[e.code, e.reason].filter((x) => x !== undefined && x !== '').join(' ') || 'no close code'})`;
        downSince = e.t;
      } else if (downSince !== undefined) {
        detail = ` after ${formatSeconds((e.t - downSince) / 1000)} down`;
        downSince = undefined;
      }
      lines.push(`  ${formatUtc(e.t)}  ${e.kind}${detail}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
