/**
 * Each followed log's entries per second over the last ten minutes, in ten-second steps, for the
 * dashboard's per-log chart. Pure, like IngestRates: the caller records every log's position now and
 * then (the daemon every second); a step's rate is the entries its positions moved over its span. The
 * step under way is included as the last point (its rate so far), so a chart moves at once.
 */
import type { LogPosition } from './ingest-rates.js';

export class RateHistory {
  /** Per log: the rates of the finished steps, oldest first (at most `steps`). */
  private readonly done = new Map<string, number[]>();
  /** Per log: where and when its step under way started (a log that appears starts its own). */
  private stepStart = new Map<string, { atMs: number; next: number }>();
  private stepStartMs: number | undefined;
  private last: { atMs: number; positions: Map<string, number> } | undefined;

  /**
   * @param stepMs length of one point, ms (default 10,000)
   * @param steps points kept per log (default 60: ten minutes)
   */
  constructor(
    readonly stepMs = 10_000,
    private readonly steps = 60,
  ) {
    if (!(stepMs > 0) || !(steps > 0)) throw new RangeError('stepMs and steps must be positive');
  }

  /** Records every log's position at `nowMs`; closes the step under way once it is `stepMs` long. */
  record(nowMs: number, logs: readonly LogPosition[]): void {
    const positions = new Map(logs.map((l) => [l.url, l.next_index]));
    // A clock that steps back: start the step again rather than report nonsense.
    if (this.stepStartMs === undefined || (this.last && nowMs < this.last.atMs)) {
      this.stepStartMs = nowMs;
      this.stepStart = new Map([...positions].map(([url, next]) => [url, { atMs: nowMs, next }]));
    } else if (nowMs - this.stepStartMs >= this.stepMs) {
      for (const [url, next] of positions) {
        const rate = this.rate(url, nowMs, next);
        if (rate === undefined) continue;
        const list = this.done.get(url) ?? [];
        list.push(rate);
        if (list.length > this.steps) list.shift();
        this.done.set(url, list);
      }
      // Logs no longer followed are forgotten.
      for (const url of this.done.keys()) if (!positions.has(url)) this.done.delete(url);
      this.stepStartMs = nowMs;
      this.stepStart = new Map([...positions].map(([url, next]) => [url, { atMs: nowMs, next }]));
    } else {
      for (const [url, next] of positions) if (!this.stepStart.has(url)) this.stepStart.set(url, { atMs: nowMs, next });
    }
    this.last = { atMs: nowMs, positions };
  }

  /** Per log: the finished steps' rates, then the step under way's rate so far (oldest first). */
  snapshot(): Map<string, number[]> {
    const out = new Map<string, number[]>();
    const last = this.last;
    if (last === undefined) return out;
    for (const [url, next] of last.positions) {
      const points = [...(this.done.get(url) ?? [])];
      const rate = this.rate(url, last.atMs, next);
      if (rate !== undefined) points.push(rate);
      if (points.length > this.steps) points.shift();
      out.set(url, points);
    }
    return out;
  }

  /** Entries/s of `url` from its step's start to (`atMs`, `next`); undefined before any time passed. */
  private rate(url: string, atMs: number, next: number): number | undefined {
    const start = this.stepStart.get(url);
    if (start === undefined || atMs <= start.atMs) return undefined;
    return Math.max(0, next - start.next) / ((atMs - start.atMs) / 1000);
  }
}
