/**
 * A running comparison of two live feeds: feeds' events go into the Comparator, which is judged every
 * second with cutoff = now − grace; `stop()` makes the last judgement and returns the report.
 * `applyFeedEvent` is shared with the replay of recordings, so both paths count the same way.
 */
import { Comparator, type FeedId, type JudgeDelta } from './comparator.js';
import type { FeedEvent } from '../feeds/feed-event.js';
import type { FeedSource } from '../feeds/feed-source.js';
import { buildReport, type AuditReport } from './report.js';

/** Applies one feed event to the comparator. */
export function applyFeedEvent(cmp: Comparator, feed: FeedId, e: FeedEvent): void {
  switch (e.ev) {
    case 'entry':
      cmp.message(feed);
      cmp.entry(feed, e.log, e.index, e.t);
      break;
    case 'heartbeat':
    case 'other':
      cmp.message(feed);
      break;
    case 'range':
      cmp.range(feed, e.log, e.lo, e.hi, e.t);
      break;
    case 'connect':
      cmp.connect(feed, e.t);
      break;
    case 'disconnect':
      cmp.disconnect(feed, e.t, e.code, e.reason);
      break;
    case 'start':
    case 'end':
      break;
  }
}

/** Options of a LiveCompare. */
export interface LiveCompareOptions {
  sources: Record<FeedId, FeedSource>;
  /** Entries first delivered less than this long before a judgement wait for the next one (ms). */
  graceMs: number;
  /** How often to judge, in ms (default 1_000). */
  judgeIntervalMs?: number;
  /** Clock, ms since the epoch (default Date.now). */
  now?: () => number;
  /** The side that is the truth (the ct feed), see ComparatorOptions. */
  reference?: FeedId;
  /** Sees every event after the comparator did (metrics, tests). */
  onEvent?: (feed: FeedId, e: FeedEvent) => void;
  /** Sees what each judgement added (metrics). */
  onJudge?: (deltas: JudgeDelta[]) => void;
}

export class LiveCompare {
  readonly comparator: Comparator;
  private readonly opts: LiveCompareOptions;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  /** ms since the epoch when `start()` ran. */
  startMs = 0;
  /** Runs after every event while `finish` waits for both feeds to move past the window. */
  private afterEvent: (() => void) | undefined;

  constructor(options: LiveCompareOptions) {
    this.opts = options;
    this.comparator = new Comparator(options.reference ? { reference: options.reference } : {});
    this.now = options.now ?? Date.now;
  }

  /** Starts both feeds and the judging timer. */
  start(): void {
    this.startMs = this.now();
    for (const id of ['a', 'b'] as FeedId[]) {
      this.opts.sources[id].start((e) => {
        applyFeedEvent(this.comparator, id, e);
        this.opts.onEvent?.(id, e);
        this.afterEvent?.();
      });
    }
    this.timer = setInterval(() => this.judgeNow(), this.opts.judgeIntervalMs ?? 1_000);
    this.timer.unref();
  }

  /** Judges everything first delivered at least `graceMs` ago; returns what it added. */
  judgeNow(): JudgeDelta[] {
    const deltas = this.comparator.judge(this.cutoff(this.now() - this.opts.graceMs));
    if (deltas.length > 0) this.opts.onJudge?.(deltas);
    return deltas;
  }

  /** now − grace, lowered per log to what a late-reporting source (ct) has settled. */
  private cutoff(base: number): number | ((log: string) => number) {
    const { a, b } = this.opts.sources;
    if (!a.settledAt && !b.settledAt) return base;
    return (log) => Math.min(base, a.settledAt?.(log) ?? Infinity, b.settledAt?.(log) ?? Infinity);
  }

  /** True when both feeds have been connected at least once. */
  get bothReached(): boolean {
    return this.opts.sources.a.everConnected && this.opts.sources.b.everConnected;
  }

  /** The report as of now (without a final judgement). */
  report(endMs = this.now()): AuditReport {
    return buildReport(this.comparator, { a: this.opts.sources.a.url, b: this.opts.sources.b.url }, this.startMs, endMs);
  }

  /**
   * Ends a `--duration` run (interface.md): the window ends now and is judged in full. The reference
   * (ct) reads the logs' heads one last time; the other feeds are followed until both have moved past
   * the window in every log, or for at most `extraMs`, so entries near the end get the same chance as
   * the others. Entries past the window that arrive meanwhile are not judged.
   * @param cutShort ends the wait early (SIGINT during it): the window is still judged as far as it got
   * @param onWait called when the feeds have not both moved past the window and the wait begins
   */
  async finish(extraMs: number, cutShort?: AbortSignal, onWait?: () => void): Promise<AuditReport> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const end = this.now();
    const ref = this.opts.reference;
    if (ref) await this.opts.sources[ref].stop();
    const limits = this.comparator.windowLimits();
    if (!this.comparator.pastWindow(limits) && extraMs > 0 && !cutShort?.aborted) {
      onWait?.();
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          cutShort?.removeEventListener('abort', done);
          this.afterEvent = undefined;
          resolve();
        };
        const timer = setTimeout(done, extraMs);
        cutShort?.addEventListener('abort', done, { once: true });
        this.afterEvent = () => {
          if (this.comparator.pastWindow(limits)) done();
        };
      });
    }
    await Promise.all([this.opts.sources.a.stop(), this.opts.sources.b.stop()]);
    const deltas = this.comparator.judgeWindow(limits, this.now() - this.opts.graceMs);
    if (deltas.length > 0) this.opts.onJudge?.(deltas);
    return this.report(end);
  }

  /** Stops both feeds, judges with cutoff = end − grace, and returns the final report. */
  async stop(): Promise<AuditReport> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    // Sources stop first: the ct feed reads the logs' heads one last time, and that must fall inside
    // the window.
    await Promise.all([this.opts.sources.a.stop(), this.opts.sources.b.stop()]);
    const end = this.now();
    const deltas = this.comparator.judge(this.cutoff(end - this.opts.graceMs));
    if (deltas.length > 0) this.opts.onJudge?.(deltas);
    return this.report(end);
  }
}
