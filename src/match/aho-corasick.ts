/**
 * A small Aho-Corasick automaton: finds which of many substrings occur in a text in one pass over the
 * text, whatever the number of substrings (the `~text` rules of a watch list or a `match=` filter). Built once from the
 * patterns; `search` is allocation-free until a pattern is found. Characters are UTF-16 code units,
 * which is exact for substring search since both sides are JavaScript strings.
 */
export class AhoCorasick {
  /** Children per node: code unit → node. */
  private readonly next: Map<number, number>[] = [new Map()];
  /** Failure link per node (longest proper suffix that is also a path in the trie). */
  private readonly fail: number[] = [0];
  /** Patterns that end at a node, its own and those reached through failure links. */
  private readonly out: number[][] = [[]];

  /** @param patterns non-empty strings; pattern i is reported as i */
  constructor(patterns: readonly string[]) {
    patterns.forEach((p, id) => {
      if (p === '') throw new RangeError('an Aho-Corasick pattern must not be empty');
      let node = 0;
      for (let i = 0; i < p.length; i++) {
        const c = p.charCodeAt(i);
        let child = this.next[node].get(c);
        if (child === undefined) {
          child = this.next.length;
          this.next.push(new Map());
          this.fail.push(0);
          this.out.push([]);
          this.next[node].set(c, child);
        }
        node = child;
      }
      this.out[node].push(id);
    });
    this.link();
  }

  /** Breadth-first: each node's failure link is computed from its parent's, and outputs are merged. */
  private link(): void {
    const queue: number[] = [];
    for (const child of this.next[0].values()) queue.push(child);
    for (let q = 0; q < queue.length; q++) {
      const node = queue[q];
      for (const [c, child] of this.next[node]) {
        let f = this.fail[node];
        while (f !== 0 && !this.next[f].has(c)) f = this.fail[f];
        const target = this.next[f].get(c);
        this.fail[child] = target !== undefined && target !== child ? target : 0;
        const inherited = this.out[this.fail[child]];
        if (inherited.length > 0) this.out[child] = this.out[child].concat(inherited);
        queue.push(child);
      }
    }
  }

  /** Number of trie nodes (for tests and the benchmark's report). */
  get size(): number {
    return this.next.length;
  }

  /**
   * Calls `found(id)` for every pattern occurring in `text` (a pattern found several times is
   * reported each time; callers de-duplicate).
   */
  search(text: string, found: (id: number) => void): void {
    let node = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      let child = this.next[node].get(c);
      while (child === undefined && node !== 0) {
        node = this.fail[node];
        child = this.next[node].get(c);
      }
      node = child ?? 0;
      const out = this.out[node];
      for (let k = 0; k < out.length; k++) found(out[k]);
    }
  }
}
