/**
 * A set of non-negative integers (CT `cert_index` values) stored as sorted, disjoint, non-adjacent
 * closed intervals. A feed that delivers a log without holes costs one interval however long it runs,
 * which is what keeps `certaudit compare` bounded in memory over days (issue 6 §2): memory grows with
 * the number of holes, not with the number of entries, and `removeBelow` drops what has been judged.
 *
 * Pure: no I/O, no clock.
 */
export class IntervalSet {
  /** Flat [start0, end0, start1, end1, ...], inclusive bounds, sorted, with a gap ≥ 1 between runs. */
  private runs: number[] = [];

  /** Number of disjoint runs (what memory is proportional to). */
  get runCount(): number {
    return this.runs.length / 2;
  }

  /** Number of integers in the set. */
  get size(): number {
    let n = 0;
    for (let i = 0; i < this.runs.length; i += 2) n += this.runs[i + 1] - this.runs[i] + 1;
    return n;
  }

  /** Smallest member, or undefined when empty. */
  get min(): number | undefined {
    return this.runs.length === 0 ? undefined : this.runs[0];
  }

  /** Largest member, or undefined when empty. */
  get max(): number | undefined {
    return this.runs.length === 0 ? undefined : this.runs[this.runs.length - 1];
  }

  /** The runs as [start, end] pairs (inclusive), in order. For tests and debugging. */
  intervals(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (let i = 0; i < this.runs.length; i += 2) out.push([this.runs[i], this.runs[i + 1]]);
    return out;
  }

  /** Index (in pairs) of the first run whose end ≥ value, or runCount when none. */
  private firstEndingAtOrAfter(value: number): number {
    let lo = 0;
    let hi = this.runs.length / 2;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.runs[mid * 2 + 1] < value) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** True when `value` is a member. */
  has(value: number): boolean {
    const k = this.firstEndingAtOrAfter(value);
    return k < this.runs.length / 2 && this.runs[k * 2] <= value;
  }

  /**
   * Adds one value. Returns true when it was not a member before (a first delivery).
   * Appending at or just after the end — the common case for a live feed — is O(1).
   */
  add(value: number): boolean {
    return this.addRange(value, value) > 0;
  }

  /**
   * Adds every integer of [lo, hi] (inclusive). Returns how many of them were new.
   */
  addRange(lo: number, hi: number): number {
    if (hi < lo) return 0;
    const r = this.runs;
    const n = r.length;
    // Fast paths: extend or append at the end.
    if (n === 0 || lo > r[n - 1] + 1) {
      r.push(lo, hi);
      return hi - lo + 1;
    }
    if (lo >= r[n - 2]) {
      const end = r[n - 1];
      if (hi <= end) return 0;
      r[n - 1] = hi;
      return hi - Math.max(lo, end + 1) + 1;
    }
    // General case: merge with every run that overlaps or touches [lo, hi].
    const first = this.firstEndingAtOrAfter(lo - 1);
    let newStart = lo;
    let newEnd = hi;
    let covered = 0;
    let last = first;
    while (last < r.length / 2 && r[last * 2] <= hi + 1) {
      const s = r[last * 2];
      const e = r[last * 2 + 1];
      covered += Math.max(0, Math.min(e, hi) - Math.max(s, lo) + 1);
      newStart = Math.min(newStart, s);
      newEnd = Math.max(newEnd, e);
      last++;
    }
    r.splice(first * 2, (last - first) * 2, newStart, newEnd);
    return hi - lo + 1 - covered;
  }

  /** How many members lie in [lo, hi] (inclusive). */
  countIn(lo: number, hi: number): number {
    if (hi < lo) return 0;
    let n = 0;
    for (let k = this.firstEndingAtOrAfter(lo); k < this.runs.length / 2; k++) {
      const s = this.runs[k * 2];
      if (s > hi) break;
      n += Math.min(this.runs[k * 2 + 1], hi) - Math.max(s, lo) + 1;
    }
    return n;
  }

  /** How many integers of [lo, hi] are members of both this set and `other`. */
  countBothIn(other: IntervalSet, lo: number, hi: number): number {
    if (hi < lo) return 0;
    const a = this.runs;
    const b = other.runs;
    let i = this.firstEndingAtOrAfter(lo) * 2;
    let j = other.firstEndingAtOrAfter(lo) * 2;
    let n = 0;
    while (i < a.length && j < b.length) {
      const s = Math.max(a[i], b[j], lo);
      const e = Math.min(a[i + 1], b[j + 1], hi);
      if (Math.max(a[i], b[j]) > hi) break;
      if (e >= s) n += e - s + 1;
      if (a[i + 1] < b[j + 1]) i += 2;
      else j += 2;
    }
    return n;
  }

  /** Forgets every member below `value` (they have been judged). */
  removeBelow(value: number): void {
    const k = this.firstEndingAtOrAfter(value);
    if (k > 0) {
      // Shift in place: splice would allocate an array of the removed runs on every judgement.
      this.runs.copyWithin(0, k * 2);
      this.runs.length -= k * 2;
    }
    if (this.runs.length > 0 && this.runs[0] < value) this.runs[0] = value;
  }
}
