/**
 * Rate-limited log lines for events that can repeat many times a second (a log whose every entry is
 * undecodable, a state directory that cannot be written). The first event of a key is logged at once;
 * further ones within `intervalMs` are only counted, and the next line written carries that count as
 * `suppressed`. The events themselves are always counted in metrics by the caller: the log is the
 * narrative, the metric the number.
 */
import type { Level, Logger } from './logger.js';

export interface RateLimitedLogOptions {
  /** At most one line per key per this many ms (default 60_000). */
  intervalMs?: number;
  /** Clock, epoch ms (tests). Default Date.now. */
  now?: () => number;
}

export class RateLimitedLog {
  private readonly intervalMs: number;
  private readonly now: () => number;
  /** Per key: when its last line was written and how many events were swallowed since. */
  private readonly keys = new Map<string, { lastAt: number; suppressed: number }>();

  constructor(
    private readonly logger: Logger,
    options: RateLimitedLogOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 60_000;
    this.now = options.now ?? Date.now;
  }

  /**
   * Logs `msg` for `key` unless a line for that key was written less than `intervalMs` ago.
   * @returns whether a line was written
   */
  log(level: Level, key: string, msg: string, fields: Record<string, unknown> = {}): boolean {
    const now = this.now();
    const state = this.keys.get(key);
    if (state !== undefined && now - state.lastAt < this.intervalMs) {
      state.suppressed++;
      return false;
    }
    const suppressed = state?.suppressed ?? 0;
    this.keys.set(key, { lastAt: now, suppressed: 0 });
    this.logger[level](msg, suppressed > 0 ? { ...fields, suppressed, suppressed_seconds: Math.round((now - state!.lastAt) / 1000) } : fields);
    return true;
  }

  /**
   * Forgets a key (its next event is logged at once), e.g. once the condition has cleared.
   * @returns the events swallowed since its last line (for the line that says it cleared)
   */
  reset(key: string): number {
    const suppressed = this.keys.get(key)?.suppressed ?? 0;
    this.keys.delete(key);
    return suppressed;
  }
}
