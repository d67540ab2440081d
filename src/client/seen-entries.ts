/**
 * Which entries a subscriber has already been given, so that a frame sent again after a reconnect (a
 * durable resume replays what was not confirmed; a server restarted after a `kill -9` streams a few
 * entries twice) is dropped, and a jump forward is told as a gap. Within one connection the server
 * sends each log's entries in strictly increasing `cert_index` order, so one number per log — the
 * highest index given — is all it takes: memory is bounded by the number of logs (at most `maxLogs`,
 * the least recently seen forgotten first). Pure.
 */

/** What became of one entry. */
export type Seen = { kind: 'new' } | { kind: 'repeat' } | { kind: 'gap'; from: number; to: number };

export class SeenEntries {
  /** log → highest index given; Map order is recency (re-inserted on every entry). */
  private readonly top = new Map<string, number>();

  constructor(private readonly maxLogs = 4096) {}

  /** Records (log, index) and says whether it is new, a repeat, or new after a hole [from, to]. */
  offer(log: string, index: number): Seen {
    const top = this.top.get(log);
    if (top !== undefined && index <= top) return { kind: 'repeat' };
    this.top.delete(log);
    this.top.set(log, index);
    if (this.top.size > this.maxLogs) this.top.delete(this.top.keys().next().value as string);
    return top !== undefined && index > top + 1 ? { kind: 'gap', from: top + 1, to: index - 1 } : { kind: 'new' };
  }

  /** Logs remembered. */
  get size(): number {
    return this.top.size;
  }
}
