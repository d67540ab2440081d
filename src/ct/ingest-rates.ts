/**
 * Entries per second per followed log over a sliding window (default the last minute), from samples
 * of each log's `next_index` (the Ingest's statuses). Pure: the caller records a sample now and then
 * (the daemon every second) and asks for the rates; nothing here reads a clock or starts a timer.
 *
 * `next_index` is what the fan-out was handed, so the rate is what the streams carried from that log
 * (skipped, unrenderable entries included, which are rare and counted elsewhere).
 */

/** One log's position, as found in `LogStatus`. */
export interface LogPosition {
  url: string;
  next_index: number;
}

interface Sample {
  atMs: number;
  next: Map<string, number>;
}

export interface RateSnapshot {
  /** Seconds actually covered by the samples (≤ the window; less just after start), or 0 with one sample. */
  windowSeconds: number;
  /** Entries/s per log url over `windowSeconds`; a log seen in fewer than two samples is absent. */
  perLog: Map<string, number>;
  /** Sum of `perLog`, or null when no log has a rate yet. */
  total: number | null;
}

export class IngestRates {
  private readonly samples: Sample[] = [];

  /** @param windowMs how far back the rates look, ms (default 60,000) */
  constructor(private readonly windowMs = 60_000) {
    if (!(windowMs > 0)) throw new RangeError(`windowMs must be positive, got ${windowMs}`);
  }

  /** Records every log's position at `nowMs` (epoch ms) and forgets samples the window no longer needs. */
  record(nowMs: number, logs: readonly LogPosition[]): void {
    const last = this.samples.at(-1);
    // A clock that steps back would give negative spans: start over rather than report nonsense.
    if (last && nowMs < last.atMs) this.samples.length = 0;
    this.samples.push({ atMs: nowMs, next: new Map(logs.map((l) => [l.url, l.next_index])) });
    // Keep the newest sample at or before the window's start, so the window is covered in full.
    while (this.samples.length > 2 && this.samples[1].atMs <= nowMs - this.windowMs) this.samples.shift();
  }

  /** The rates over the recorded window. */
  snapshot(): RateSnapshot {
    const newest = this.samples.at(-1);
    const perLog = new Map<string, number>();
    if (!newest || this.samples.length < 2) return { windowSeconds: 0, perLog, total: null };
    for (const [url, next] of newest.next) {
      // The oldest sample that knows the log: a log added later gets the rate since it appeared.
      const first = this.samples.find((s) => s.next.has(url));
      if (!first || first === newest) continue;
      const seconds = (newest.atMs - first.atMs) / 1000;
      if (seconds <= 0) continue;
      // A cursor that moved back (a reset) is not negative traffic.
      perLog.set(url, Math.max(0, next - (first.next.get(url) ?? next)) / seconds);
    }
    const total = perLog.size === 0 ? null : [...perLog.values()].reduce((a, b) => a + b, 0);
    return { windowSeconds: (newest.atMs - this.samples[0].atMs) / 1000, perLog, total };
  }
}
