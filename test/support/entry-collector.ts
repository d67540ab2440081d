/**
 * An EntrySink for tests that records what each log delivered and lets a test wait, without sleeping,
 * until a log has delivered up to some index.
 */
import type { CtEntry, EntrySink, LogDescriptor, SinkEntry } from '../../src/ct/types.js';

export class EntryCollector {
  /** Delivered entries by log URL, in delivery order. */
  readonly byLog = new Map<string, CtEntry[]>();
  private waiters: { log: string; next: number; resolve: () => void }[] = [];

  readonly sink: EntrySink = (log: LogDescriptor, entries: readonly SinkEntry[]) => {
    let list = this.byLog.get(log.url);
    if (!list) this.byLog.set(log.url, (list = []));
    // Undecodable entries are the server sink's to count; what a log delivered is its decoded entries.
    for (const e of entries) if (!('error' in e)) list.push(e);
    this.waiters = this.waiters.filter((w) => {
      if (w.log !== log.url || this.nextOf(w.log) < w.next) return true;
      w.resolve();
      return false;
    });
  };

  /** Indices delivered for a log. */
  indices(log: string): number[] {
    return (this.byLog.get(log) ?? []).map((e) => e.index);
  }

  /** One past the last delivered index (0 when none). */
  nextOf(log: string): number {
    const list = this.byLog.get(log);
    return list && list.length > 0 ? list[list.length - 1].index + 1 : 0;
  }

  /** Resolves once the log delivered an entry with index `next - 1` or later. */
  until(log: string, next: number): Promise<void> {
    if (this.nextOf(log) >= next) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ log, next, resolve }));
  }
}

/** [from, from+1, ..., to-1]. */
export function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
}
