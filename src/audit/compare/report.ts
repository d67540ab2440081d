/**
 * The `certaudit compare` report (pure): the JSON document whose keys interface.md fixes, built from a
 * Comparator after its last judgement. The table rendering lives in report-table.ts.
 */
import type { Comparator, FeedId, IgnoreReason, LogCounts } from './comparator.js';
import type { ConnectionEvent } from './connection-log.js';

/** Per-feed part of the report. */
export interface FeedReport {
  url: string;
  connects: number;
  disconnects: number;
  downtime_seconds: number;
  messages: number;
}

/** Totals over all compared logs. Ratios are fractions of the union (0 when nothing was compared). */
export interface ReportTotals {
  union: number;
  missed_by_a: number;
  missed_by_b: number;
  miss_ratio_a: number;
  miss_ratio_b: number;
  reconnect_loss_a: number;
  reconnect_loss_b: number;
}

/** The JSON report of interface.md; the keys after `totals` are ours (the contract allows extra keys). */
export interface AuditReport {
  window: { start: number; end: number };
  feeds: Record<FeedId, FeedReport>;
  logs: LogCounts[];
  totals: ReportTotals;
  /** False when no entry was judged at all: the zeros above then measure nothing. */
  judged: boolean;
  /** Entries not compared, per feed and reason (too_many_logs, implausible_index). */
  ignored: Record<FeedId, Record<IgnoreReason, number>>;
  /** The bound on tracked logs, and whether a frame of a further log was refused. */
  log_limit: { max: number; reached: boolean };
  /** Logs where a feed sent implausible cert_index jumps, with the number ignored per feed. */
  anomalies: Array<{ log: string; a: number; b: number }>;
}

/** What the table shows beyond the JSON keys; not part of the contract. */
export interface ReportExtras {
  /** Connection events per feed, ms since the epoch. */
  history: Record<FeedId, readonly ConnectionEvent[]>;
  /** Logs only one feed delivered (never comparable). */
  uncompared: Record<FeedId, string[]>;
  /** The grace (s) that was applied at the end. */
  graceSeconds: number;
  /** True for a `--duration` run, judged in full after following the feeds up to the grace more. */
  judgedInFull?: boolean;
}

/** Rounds to 6 decimals so the JSON stays readable and stable. */
function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

/** Adds up the per-log counts. */
export function totalsOf(logs: readonly LogCounts[]): ReportTotals {
  const t = { union: 0, missed_by_a: 0, missed_by_b: 0, reconnect_loss_a: 0, reconnect_loss_b: 0 };
  for (const l of logs) {
    t.union += l.union;
    t.missed_by_a += l.missed_by_a;
    t.missed_by_b += l.missed_by_b;
    t.reconnect_loss_a += l.reconnect_loss_a;
    t.reconnect_loss_b += l.reconnect_loss_b;
  }
  return {
    union: t.union,
    missed_by_a: t.missed_by_a,
    missed_by_b: t.missed_by_b,
    miss_ratio_a: t.union === 0 ? 0 : round6(t.missed_by_a / t.union),
    miss_ratio_b: t.union === 0 ? 0 : round6(t.missed_by_b / t.union),
    reconnect_loss_a: t.reconnect_loss_a,
    reconnect_loss_b: t.reconnect_loss_b,
  };
}

/**
 * Builds the report of a finished (or running) comparison.
 * @param startMs window start, ms since the epoch
 * @param endMs window end, ms since the epoch (also where a current outage's downtime stops)
 */
export function buildReport(cmp: Comparator, urls: Record<FeedId, string>, startMs: number, endMs: number): AuditReport {
  const feed = (id: FeedId): FeedReport => ({
    url: urls[id],
    connects: cmp.connections[id].connects,
    disconnects: cmp.connections[id].disconnects,
    downtime_seconds: round6(cmp.connections[id].downtimeSeconds(endMs)),
    messages: cmp.messages[id],
  });
  const logs = cmp.logCounts();
  const totals = totalsOf(logs);
  return {
    window: { start: startMs / 1000, end: endMs / 1000 },
    feeds: { a: feed('a'), b: feed('b') },
    logs,
    totals,
    judged: totals.union > 0,
    ignored: { a: { ...cmp.ignored.a }, b: { ...cmp.ignored.b } },
    log_limit: { max: cmp.maxLogs, reached: cmp.logLimitReached },
    anomalies: cmp.anomalies(),
  };
}

/** The extras the table needs, from the same comparator. */
export function reportExtras(cmp: Comparator, graceSeconds: number, judgedInFull = false): ReportExtras {
  return {
    history: { a: cmp.connections.a.history, b: cmp.connections.b.history },
    uncompared: cmp.uncomparedLogs(),
    graceSeconds,
    judgedInFull,
  };
}
