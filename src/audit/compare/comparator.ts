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
 * Definitions (interface.md): missed_by_a = judged indices b delivered and a did not; gaps_a = holes in
 * a's own index sequence (between the window start and a's highest index); reconnect_loss_a = the part
 * of missed_by_a that b delivered while a was disconnected.
 */
import { ConnectionLog } from './connection-log.js';
import { FrontierQueue } from './frontier-queue.js';
import { IntervalSet } from './interval-set.js';

/** Arrivals closer together than this (ms) share one frontier point. */
const FRONTIER_MERGE_MS = 10;

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
}

function newFeedLog(): FeedLog {
  return { seen: new IntervalSet(), whileOtherDown: new IntervalSet(), gapPtr: -1, delivered: false };
}

/** Options of a Comparator. */
export interface ComparatorOptions {
  /**
   * A side that is the truth rather than a peer — the `ct` feed, which reports what the logs
   * appended. A log's window then starts at the reference's first index as soon as the reference has
   * it, even when the other feed never delivers that log (all of it is then missed).
   */
  reference?: FeedId;
}

export class Comparator {
  private readonly reference: FeedId | undefined;

  constructor(options: ComparatorOptions = {}) {
    this.reference = options.reference;
  }

  /** Connection history of each feed. */
  readonly connections: Record<FeedId, ConnectionLog> = { a: new ConnectionLog(), b: new ConnectionLog() };
  /** Messages received per feed (every frame, heartbeats and unknown ones included). */
  readonly messages: Record<FeedId, number> = { a: 0, b: 0 };
  /** Entry frames (certificate_update with an identity) received per feed, duplicates included. */
  readonly entries: Record<FeedId, number> = { a: 0, b: 0 };
  private readonly logs = new Map<string, LogState>();

  private state(log: string): LogState {
    let s = this.logs.get(log);
    if (!s) {
      s = {
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
    this.range(feed, log, index, index, t);
  }

  /** Feed `feed` delivered every index of [lo, hi] (inclusive) of `log` at `t` (ms) — the `ct` feed. */
  range(feed: FeedId, log: string, lo: number, hi: number, t: number): void {
    const s = this.state(log);
    const f = s[feed];
    f.delivered = true;
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

  /** Both feeds have now delivered this log: fix the window and drop what lies before it. */
  private openWindow(s: LogState): void {
    const start = this.reference
      ? (s[this.reference].seen.min ?? 0)
      : Math.max(s.a.seen.min ?? 0, s.b.seen.min ?? 0);
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
      if (s.windowStart === undefined) {
        const ready = this.reference
          ? s[this.reference].seen.min !== undefined
          : s.a.seen.min !== undefined && s.b.seen.min !== undefined;
        if (ready) this.openWindow(s);
      }
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
