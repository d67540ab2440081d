/**
 * The comparison of two feeds (pure; the caller passes every time in ms since the epoch).
 *
 * Feeds report entries (log, cert_index) with their arrival time, or — for `ct` — whole index ranges a
 * log appended. Per log the comparable window starts at the later of the two feeds' lowest indices
 * (fixed at the first judgement after both delivered the log); an
 * index is judged once `judge(cutoff)` is called with a cutoff past the first arrival of a higher
 * index on either feed (the caller uses cutoff = now − grace, so a slower feed gets `grace` to catch
 * up). Judged indices are counted and forgotten: memory holds interval sets (one run per hole) and a
 * short time → highest-index list for the last `grace` seconds, never a per-index set of the run.
 * Reconnect loss is decided when an entry arrives (is the other feed down right now?), kept as one
 * more interval set, so no per-entry arrival time has to be stored. Hence events (entries and
 * connection changes of both feeds) must be applied in time order — as they happen in a live run, and
 * as the replay of recordings merges them.
 *
 * Hostile or broken feeds: at most `maxLogs` logs are tracked (a feed inventing a new source.url per
 * frame would otherwise grow memory without bound); frames of further logs are refused and counted. An
 * index more than `jumpLimit` above everything seen of its log is an anomaly, counted and ignored,
 * rather than the new frontier (one outlier would otherwise drop every later entry and report ~1e9
 * gaps); a jump is believed once the same feed confirms it with `JUMP_CONFIRMATIONS` frames near it
 * (a real resumption far ahead, after both feeds were away).
 *
 * A log only one feed delivers is compared (window from that feed's first index) once the other feed
 * has been connected for the whole grace since the log first arrived: a feed that never streams a log
 * misses all of it, and that holds again after a restart of certaudit.
 *
 * Definitions (interface.md): missed_by_a = judged indices b delivered and a did not; gaps_a = holes in
 * a's own index sequence (between the window start and a's highest index); reconnect_loss_a = the part
 * of missed_by_a that b delivered while a was disconnected.
 */
import { ConnectionLog } from './connection-log.js';
import { FrontierQueue } from './frontier-queue.js';
import { IntervalSet } from './interval-set.js';

/** Arrivals closer together than this (ms) share one frontier point. */
const FRONTIER_MERGE_MS = 10;

/** Logs tracked at most by default; Google's list names a few hundred over all time. */
export const MAX_LOGS = 1_000;
/** An index this far above the highest index of its log is implausible (default). */
export const JUMP_LIMIT = 1_000_000;
/** Frames of one feed near an implausible index that make it believed. */
export const JUMP_CONFIRMATIONS = 3;

/** Why an entry was not compared (the `reason` label of certaudit_ignored_entries_total). */
export type IgnoreReason = 'too_many_logs' | 'implausible_index';

/** Which side of the comparison. */
export type FeedId = 'a' | 'b';

/** The judged numbers of one log; keys as in the JSON report. */
export interface LogCounts {
  log: string;
  seen_a: number;
  seen_b: number;
  union: number;
  missed_by_a: number;
  missed_by_b: number;
  gaps_a: number;
  gaps_b: number;
  reconnect_loss_a: number;
  reconnect_loss_b: number;
}

/** What one `judge` call added for one log (drives the `certaudit_*_total{log}` counters). */
export interface JudgeDelta {
  log: string;
  union: number;
  missed_by_a: number;
  missed_by_b: number;
}

interface FeedLog {
  seen: IntervalSet;
  /** Indices this feed delivered first-hand while the other feed was disconnected. */
  whileOtherDown: IntervalSet;
  /** Last index up to which gaps have been counted. */
  gapPtr: number;
  /** True once this feed delivered anything of the log. */
  delivered: boolean;
  /** Highest index this feed delivered (kept after judging, unlike `seen`), or -1. */
  top: number;
  /** Implausible indices held back until confirmed (at most JUMP_CONFIRMATIONS), with arrival times. */
  jump: Array<{ index: number; t: number }>;
  /** Entries of this log ignored as implausible jumps. */
  anomalies: number;
}

interface LogState {
  log: string;
  a: FeedLog;
  b: FeedLog;
  /** First comparable index, fixed once both feeds have delivered something of this log. */
  windowStart: number | undefined;
  /** Highest judged index (windowStart − 1 before the first judgement). */
  judged: number;
  /** Highest index delivered by either feed. */
  maxIndex: number;
  /** When the highest index first grew to which value, for the judgements still to come. */
  frontier: FrontierQueue;
  counts: LogCounts;
  /** When a feed first delivered this log (ms). */
  firstAt: number;
}

function newFeedLog(): FeedLog {
  return { seen: new IntervalSet(), whileOtherDown: new IntervalSet(), gapPtr: -1, delivered: false, top: -1, jump: [], anomalies: 0 };
}

/** Options of a Comparator. */
export interface ComparatorOptions {
  /**
   * A side that is the truth rather than a peer — the `ct` feed, which reports what the logs
   * appended. A log's window then starts at the reference's first index as soon as the reference has
   * it, even when the other feed never delivers that log (all of it is then missed).
   */
  reference?: FeedId;
  /** Logs tracked at most (default MAX_LOGS). */
  maxLogs?: number;
  /** Jump above a log's highest index that is an anomaly (default JUMP_LIMIT). */
  jumpLimit?: number;
}

export class Comparator {
  private readonly reference: FeedId | undefined;
  readonly maxLogs: number;
  private readonly jumpLimit: number;

  constructor(options: ComparatorOptions = {}) {
    this.reference = options.reference;
    this.maxLogs = options.maxLogs ?? MAX_LOGS;
    this.jumpLimit = options.jumpLimit ?? JUMP_LIMIT;
  }

  /** Entries not compared, per feed and reason. */
  readonly ignored: Record<FeedId, Record<IgnoreReason, number>> = {
    a: { too_many_logs: 0, implausible_index: 0 },
    b: { too_many_logs: 0, implausible_index: 0 },
  };

  /** Connection history of each feed. */
  readonly connections: Record<FeedId, ConnectionLog> = { a: new ConnectionLog(), b: new ConnectionLog() };
  /** Messages received per feed (every frame, heartbeats and unknown ones included). */
  readonly messages: Record<FeedId, number> = { a: 0, b: 0 };
  /** Entry frames (certificate_update with an identity) received per feed, duplicates included. */
  readonly entries: Record<FeedId, number> = { a: 0, b: 0 };
  private readonly logs = new Map<string, LogState>();

  /** True once `maxLogs` logs are tracked and some frame of a further log was refused. */
  get logLimitReached(): boolean {
    return this.ignored.a.too_many_logs + this.ignored.b.too_many_logs > 0;
  }

  /** The state of `log`, created on first sight; undefined (the frame is refused) past `maxLogs` logs. */
  private state(log: string, feed: FeedId, t: number, n: number): LogState | undefined {
    let s = this.logs.get(log);
    if (!s) {
      if (this.logs.size >= this.maxLogs) {
        this.ignored[feed].too_many_logs += n;
        return undefined;
      }
      s = {
        firstAt: t,
        log,
        a: newFeedLog(),
        b: newFeedLog(),
        windowStart: undefined,
        judged: -1,
        maxIndex: -1,
        frontier: new FrontierQueue(),
        counts: {
          log, seen_a: 0, seen_b: 0, union: 0, missed_by_a: 0, missed_by_b: 0,
          gaps_a: 0, gaps_b: 0, reconnect_loss_a: 0, reconnect_loss_b: 0,
        },
      };
      this.logs.set(log, s);
    }
    return s;
  }

  /** Feed `feed` received a message (any frame) at `t`. */
  message(feed: FeedId): void {
    this.messages[feed]++;
  }

  /** Feed `feed` delivered entry `index` of `log` at `t` (ms). Duplicates and judged indices are ignored. */
  entry(feed: FeedId, log: string, index: number, t: number): void {
    this.entries[feed]++;
    const s = this.logs.get(log);
    if (s !== undefined && s.maxIndex >= 0 && index > s.maxIndex + this.jumpLimit) {
      this.implausible(s, feed, index, t);
      return;
    }
    this.range(feed, log, index, index, t);
  }

  /**
   * An index far above everything seen of its log: held back and counted, unless it is the
   * JUMP_CONFIRMATIONS-th frame of this feed near the same place, which makes the jump believed.
   */
  private implausible(s: LogState, feed: FeedId, index: number, t: number): void {
    const f = s[feed];
    const near = f.jump.length > 0 && Math.abs(index - f.jump[f.jump.length - 1].index) <= this.jumpLimit;
    // A new place: the previous candidates stay counted as outliers for good.
    if (!near) f.jump = [];
    f.jump.push({ index, t });
    f.anomalies++;
    this.ignored[feed].implausible_index++;
    if (f.jump.length < JUMP_CONFIRMATIONS) return;
    // Confirmed: a real resumption far ahead. Its frames were entries after all, and so are the
    // other feed's frames held near the same place.
    this.release(s, feed);
    const other: FeedId = feed === 'a' ? 'b' : 'a';
    const o = s[other].jump;
    if (o.length > 0 && o.every((j) => j.index <= s.maxIndex + this.jumpLimit)) this.release(s, other);
  }

  /** Applies a feed's held jump frames as entries and takes them off the anomaly counts. */
  private release(s: LogState, feed: FeedId): void {
    const f = s[feed];
    const held = f.jump;
    f.jump = [];
    f.anomalies -= held.length;
    this.ignored[feed].implausible_index -= held.length;
    for (const j of held) this.range(feed, s.log, j.index, j.index, j.t);
  }

  /** Feed `feed` delivered every index of [lo, hi] (inclusive) of `log` at `t` (ms) — the `ct` feed. */
  range(feed: FeedId, log: string, lo: number, hi: number, t: number): void {
    const s = this.state(log, feed, t, hi - lo + 1);
    if (s === undefined) return;
    const f = s[feed];
    f.delivered = true;
    if (hi > f.top) f.top = hi;
    if (s.windowStart !== undefined) lo = Math.max(lo, s.judged + 1);
    if (hi < lo) return;
    const added = f.seen.addRange(lo, hi);
    if (added === 0) return;
    if (this.connections[feed === 'a' ? 'b' : 'a'].wasDownAt(t)) f.whileOtherDown.addRange(lo, hi);
    if (hi > s.maxIndex) {
      s.maxIndex = hi;
      // Arrivals within FRONTIER_MERGE_MS share one point (stamped with the earlier time): the queue
      // stays small at thousands of entries a second, and judging moves at most that much earlier.
      s.frontier.push(t, hi, FRONTIER_MERGE_MS);
    }
  }

  /**
   * Whether the window of `s` can open at a judgement with cutoff `limit` (now − grace): both feeds
   * delivered it; or the reference did; or one feed did and the other has been connected for the
   * whole grace since the log first arrived (it had every chance and delivered nothing of it).
   */
  private windowReady(s: LogState, limit: number): boolean {
    if (this.reference) return s[this.reference].seen.min !== undefined;
    const hasA = s.a.seen.min !== undefined;
    const hasB = s.b.seen.min !== undefined;
    if (hasA && hasB) return true;
    if (hasA === hasB || s.a.delivered === s.b.delivered) return false;
    const other = this.connections[hasA ? 'b' : 'a'].upSince;
    return other !== undefined && Math.max(other, s.firstAt) <= limit;
  }

  /** The window of this log opens (see windowReady): fix its start and drop what lies before it. */
  private openWindow(s: LogState): void {
    const mins = [s.a.seen.min, s.b.seen.min].filter((m): m is number => m !== undefined);
    const start = this.reference ? (s[this.reference].seen.min ?? 0) : Math.max(...mins, 0);
    s.windowStart = start;
    s.judged = start - 1;
    for (const f of [s.a, s.b]) {
      f.seen.removeBelow(start);
      f.gapPtr = start - 1;
      f.whileOtherDown.removeBelow(start);
    }
  }

  /** Feed `feed` connected at `t` (ms). */
  connect(feed: FeedId, t: number): void {
    this.connections[feed].connect(t);
  }

  /** Feed `feed` lost its connection at `t` (ms), with the close code and reason or error text. */
  disconnect(feed: FeedId, t: number, code?: number, reason?: string): void {
    this.connections[feed].disconnect(t, code, reason);
  }

  /**
   * Judges, in every log, the indices up to the highest one first delivered at or before `cutoff`
   * (ms), and forgets them. Returns what was added per log (logs with nothing new are left out).
   * @param cutoff ms since the epoch, or a function giving it per log (the ct feed knows each log only
   *   as far as its last successful head poll)
   */
  judge(cutoff: number | ((log: string) => number)): JudgeDelta[] {
    const deltas: JudgeDelta[] = [];
    for (const s of this.logs.values()) {
      const limit = typeof cutoff === 'number' ? cutoff : cutoff(s.log);
      // The window opens at the first judgement after both feeds delivered this log, not at the
      // first delivery, so that a slightly reordered start of either feed does not move it.
      if (s.windowStart === undefined && this.windowReady(s, limit)) this.openWindow(s);
      const upTo = s.frontier.takeUpTo(limit);
      if (upTo < 0) continue;
      if (s.windowStart === undefined) {
        // Only one feed has this log so far: what is older than the grace can never be compared
        // fairly any more, so it is dropped and the window will start after it.
        for (const f of [s.a, s.b]) {
          f.seen.removeBelow(upTo + 1);
          f.whileOtherDown.removeBelow(upTo + 1);
        }
        continue;
      }
      if (upTo <= s.judged) continue;
      const d = this.judgeLog(s, s.judged + 1, upTo);
      if (d.union > 0 || d.missed_by_a > 0 || d.missed_by_b > 0) deltas.push(d);
    }
    return deltas;
  }

  /** Per log, the highest index either feed has delivered: where a `--duration` window ends. */
  windowLimits(): Map<string, number> {
    const out = new Map<string, number>();
    for (const s of this.logs.values()) if (s.maxIndex >= 0) out.set(s.log, s.maxIndex);
    return out;
  }

  /**
   * True once every feed that delivers a log has delivered an index at or past its limit, in every
   * log: both have moved past the window, so waiting longer cannot change its judgement. A log one
   * feed never delivered does not hold this up (that feed may never deliver it).
   */
  pastWindow(limits: ReadonlyMap<string, number>): boolean {
    for (const [log, limit] of limits) {
      const s = this.logs.get(log);
      if (!s) continue;
      for (const id of ['a', 'b'] as const) {
        if (id === this.reference || !s[id].delivered) continue;
        if (s[id].top < limit) return false;
      }
    }
    return true;
  }

  /**
   * The last judgement of a `--duration` run: every log up to its limit (from `windowLimits` at the
   * window's end), whatever the arrival times, so a short run is judged in full. `cutoff` (now −
   * grace) only decides whether a log one feed never delivered is compared (see windowReady).
   */
  judgeWindow(limits: ReadonlyMap<string, number>, cutoff: number): JudgeDelta[] {
    const deltas: JudgeDelta[] = [];
    for (const [log, limit] of limits) {
      const s = this.logs.get(log);
      if (!s) continue;
      if (s.windowStart === undefined && this.windowReady(s, cutoff)) this.openWindow(s);
      if (s.windowStart === undefined || limit <= s.judged) continue;
      const d = this.judgeLog(s, s.judged + 1, limit);
      if (d.union > 0 || d.missed_by_a > 0 || d.missed_by_b > 0) deltas.push(d);
    }
    return deltas;
  }

  /** Entries of each feed ignored as implausible jumps, per log (only logs that had any). */
  anomalies(): Array<{ log: string; a: number; b: number }> {
    const out: Array<{ log: string; a: number; b: number }> = [];
    for (const s of this.logs.values()) {
      if (s.a.anomalies + s.b.anomalies > 0) out.push({ log: s.log, a: s.a.anomalies, b: s.b.anomalies });
    }
    return out;
  }

  private judgeLog(s: LogState, lo: number, hi: number): JudgeDelta {
    const c = s.counts;
    const seenA = s.a.seen.countIn(lo, hi);
    const seenB = s.b.seen.countIn(lo, hi);
    const both = s.a.seen.countBothIn(s.b.seen, lo, hi);
    const missedA = seenB - both;
    const missedB = seenA - both;
    c.seen_a += seenA;
    c.seen_b += seenB;
    c.union += seenA + seenB - both;
    c.missed_by_a += missedA;
    c.missed_by_b += missedB;
    if (missedA > 0) c.reconnect_loss_a += s.b.whileOtherDown.countIn(lo, hi) - s.b.whileOtherDown.countBothIn(s.a.seen, lo, hi);
    if (missedB > 0) c.reconnect_loss_b += s.a.whileOtherDown.countIn(lo, hi) - s.a.whileOtherDown.countBothIn(s.b.seen, lo, hi);
    for (const [f, key] of [[s.a, 'gaps_a'], [s.b, 'gaps_b']] as const) {
      const top = Math.min(hi, f.seen.max ?? -1);
      if (top > f.gapPtr) {
        c[key] += top - f.gapPtr - f.seen.countIn(f.gapPtr + 1, top);
        f.gapPtr = top;
      }
    }
    s.judged = hi;
    for (const f of [s.a, s.b]) {
      f.seen.removeBelow(hi + 1);
      f.whileOtherDown.removeBelow(hi + 1);
    }
    return { log: s.log, union: seenA + seenB - both, missed_by_a: missedA, missed_by_b: missedB };
  }

  /** Judged numbers of every log whose window is open, worst first (most misses of either feed). */
  logCounts(): LogCounts[] {
    const out: LogCounts[] = [];
    for (const s of this.logs.values()) if (s.windowStart !== undefined) out.push({ ...s.counts });
    return out.sort(
      (x, y) =>
        Math.max(y.missed_by_a, y.missed_by_b) - Math.max(x.missed_by_a, x.missed_by_b) ||
        y.gaps_a + y.gaps_b - (x.gaps_a + x.gaps_b) ||
        (x.log < y.log ? -1 : x.log > y.log ? 1 : 0),
    );
  }

  /** Logs delivered by only one feed so far (not comparable), by feed. */
  uncomparedLogs(): Record<FeedId, string[]> {
    const out: Record<FeedId, string[]> = { a: [], b: [] };
    for (const s of this.logs.values()) {
      if (s.windowStart !== undefined) continue;
      if (s.a.delivered) out.a.push(s.log);
      if (s.b.delivered) out.b.push(s.log);
    }
    return out;
  }

  /** Current memory footprint in stored numbers (interval runs and frontier points), for benchmarks and tests. */
  footprint(): number {
    let n = 0;
    for (const s of this.logs.values()) {
      n += (s.a.seen.runCount + s.b.seen.runCount + s.a.whileOtherDown.runCount + s.b.whileOtherDown.runCount) * 2;
      n += s.frontier.length * 2;
    }
    return n;
  }
}
