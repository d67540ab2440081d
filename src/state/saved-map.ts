/**
 * The shell of every store of saved positions — the cursor file, the durable positions file and their
 * NATS key-value twins: the values live in a map in memory, a change marks its key, and a write (at
 * most once per period while something changed, on `flush()` and at `close()`) goes in three steps:
 *   1. snapshot the values to write,
 *   2. wait for what they depend on (the replay window's fsync, JetStream's acknowledgements),
 *   3. write that snapshot.
 * The order is the point. A value is set only after what it covers was handed to the dependency (the
 * follower publishes, then moves its cursor), so the wait covers everything the snapshot points past;
 * a value set during the wait may point past what the wait covers, and is left for the next write.
 * Reading the values after the wait instead saved a cursor past entries JetStream never acknowledged.
 *
 * Keys are plain map keys: client-chosen names such as `__proto__` are values like any other.
 */
import { DirtyFlusher } from './dirty-flusher.js';

/** Told of each write's outcome (flush-failures.ts counts and logs them). */
export interface WriteOutcome {
  failed(error: Error): void;
  succeeded(): void;
}

export interface SavedMapOptions<V> {
  /**
   * What a write gets: `all`, every value (a file rewritten whole); `changed`, only the keys set since
   * their last successful write (one key-value entry each).
   */
  snapshot: 'all' | 'changed';
  /**
   * Writes a snapshot; throws to have it written again at the next flush. `deleted`: the keys deleted
   * since their last successful write (`changed` only: with `all` the snapshot simply lacks them).
   */
  write: (snapshot: ReadonlyMap<string, V>, deleted: ReadonlySet<string>) => Promise<void>;
  /** What the values depend on, awaited after the snapshot and before the write; a failure fails the write. */
  dependency?: () => Promise<void>;
  /** Turns a failure of the dependency or the write into the store's error (its code, its message). */
  failure: (err: unknown) => Error;
  /** Told of every write's outcome. */
  outcome?: WriteOutcome;
}

export class SavedMap<V> {
  private readonly values = new Map<string, V>();
  /** Keys set since their last successful write (or its snapshot, while one is under way). */
  private readonly changed = new Set<string>();
  /** Keys deleted since their last successful write (or its snapshot), not set again since. */
  private readonly deleted = new Set<string>();
  private readonly flusher = new DirtyFlusher(() => this.writeSnapshot());

  constructor(private readonly options: SavedMapOptions<V>) {}

  /** Number of keys held. */
  get size(): number {
    return this.values.size;
  }

  get(key: string): V | undefined {
    return this.values.get(key);
  }

  /** Every key and value held, saved or not. */
  entries(): IterableIterator<[string, V]> {
    return this.values.entries();
  }

  /** Sets a value to be saved at the next write (nothing when it is the value held). */
  set(key: string, value: V): void {
    if (this.values.get(key) === value) return;
    this.values.set(key, value);
    this.changed.add(key);
    this.deleted.delete(key);
    this.flusher.markDirty();
  }

  /** Forgets a key; the next write removes it from the saved state too (nothing when it is not held). */
  delete(key: string): void {
    if (!this.values.delete(key)) return;
    this.changed.delete(key);
    this.deleted.add(key);
    this.flusher.markDirty();
  }

  /** Holds a value that is saved already (read at load, another node's save): it is not written back. */
  learn(key: string, value: V): void {
    this.values.set(key, value);
    this.deleted.delete(key); // the saved state has a value again: a pending delete would remove it
  }

  /** Whether the key was set since its last write began (a value of ours the saved state does not have yet). */
  isChanged(key: string): boolean {
    return this.changed.has(key);
  }

  /** Has the next flush write even when no value changed (a reset that must reach the file). */
  rewrite(): void {
    this.flusher.markDirty();
  }

  /**
   * Starts the periodic write (an unref'd timer).
   * @param periodMs at most one write per this many ms while something changed
   * @param onError gets the failures of the timer's writes (`flush` and `close` reject with theirs)
   */
  start(periodMs: number, onError: (err: unknown) => void): void {
    this.flusher.start(periodMs, onError);
  }

  /** Writes now when something changed; writes never overlap. */
  flush(): Promise<void> {
    return this.flusher.flush();
  }

  /** Stops the timer and writes a last time. */
  close(): Promise<void> {
    return this.flusher.close();
  }

  private async writeSnapshot(): Promise<void> {
    // Step 1, before any await: what this write saves.
    const keys = [...this.changed];
    const deleted = new Set(this.deleted);
    this.changed.clear();
    this.deleted.clear();
    const snapshot = this.options.snapshot === 'all' ? new Map(this.values) : new Map(keys.map((k) => [k, this.values.get(k)!]));
    try {
      await this.options.dependency?.();
      await this.options.write(snapshot, deleted);
    } catch (err) {
      // Written again next time (a newer value set meanwhile is what the next snapshot takes; a key
      // deleted or set again meanwhile is already marked for what it is now).
      for (const k of keys) if (this.values.has(k) && !this.deleted.has(k)) this.changed.add(k);
      for (const k of deleted) if (!this.values.has(k)) this.deleted.add(k);
      const error = this.options.failure(err);
      this.options.outcome?.failed(error);
      throw error;
    }
    this.options.outcome?.succeeded();
  }
}
