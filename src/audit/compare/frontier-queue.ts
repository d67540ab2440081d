/**
 * The "frontier" of one log (pure): (time, highest index so far) points in arrival order, consumed
 * from the front as judgements pass their time. A ring of two Float64Arrays that doubles when full:
 * at thousands of entries a second it neither boxes numbers nor reallocates on every judgement, which
 * keeps a day-long `certaudit compare` flat in memory.
 */
export class FrontierQueue {
  private times: Float64Array;
  private indices: Float64Array;
  private head = 0;
  private count = 0;

  /** @param capacity initial number of points (grows by doubling) */
  constructor(capacity = 64) {
    this.times = new Float64Array(capacity);
    this.indices = new Float64Array(capacity);
  }

  /** Points held. */
  get length(): number {
    return this.count;
  }

  /**
   * Records that the highest index became `index` at `t` (ms). A point closer than `mergeMs` to the
   * previous one replaces that point's index instead (keeping the earlier time).
   */
  push(t: number, index: number, mergeMs: number): void {
    const cap = this.times.length;
    if (this.count > 0) {
      const last = (this.head + this.count - 1) % cap;
      if (t - this.times[last] < mergeMs) {
        this.indices[last] = index;
        return;
      }
    }
    if (this.count === cap) this.grow();
    const at = (this.head + this.count) % this.times.length;
    this.times[at] = t;
    this.indices[at] = index;
    this.count++;
  }

  /** Removes every point with time ≤ `cutoff`; returns the index of the last one removed, or -1. */
  takeUpTo(cutoff: number): number {
    let upTo = -1;
    const cap = this.times.length;
    while (this.count > 0 && this.times[this.head] <= cutoff) {
      upTo = this.indices[this.head];
      this.head = (this.head + 1) % cap;
      this.count--;
    }
    return upTo;
  }

  private grow(): void {
    const cap = this.times.length;
    const times = new Float64Array(cap * 2);
    const indices = new Float64Array(cap * 2);
    for (let i = 0; i < this.count; i++) {
      times[i] = this.times[(this.head + i) % cap];
      indices[i] = this.indices[(this.head + i) % cap];
    }
    this.times = times;
    this.indices = indices;
    this.head = 0;
  }
}
