/**
 * Matches normalised names against a fixed list of name rules, fast: the cost per name does not grow
 * with the number of rules. Shared by certstream-watch (watch/matcher.ts adds regex rules) and the
 * server's `match=` filter (stream/filter-sets.ts).
 * - domain rules (`example.com`) and exact rules (`=example.com`): Map lookups per label suffix of the
 *   name (name-index.ts);
 * - substring rules (`~paypal`): one pass of an Aho-Corasick automaton over the name.
 */
import { AhoCorasick } from './aho-corasick.js';
import { NameIndex } from './name-index.js';
import type { NameRule } from './name-rule.js';

export class NameMatcher<R extends NameRule = NameRule> {
  private readonly index = new NameIndex<R>();
  private readonly substrings: R[] = [];
  private readonly automaton: AhoCorasick | undefined;

  constructor(rules: Iterable<R>) {
    for (const r of rules) {
      if (r.kind === 'substring') this.substrings.push(r);
      else this.index.add(r.kind, r.value, r);
    }
    this.automaton = this.substrings.length > 0 ? new AhoCorasick(this.substrings.map((r) => r.value)) : undefined;
  }

  /** Whether it holds any rule. */
  get empty(): boolean {
    return this.index.size === 0 && this.automaton === undefined;
  }

  /**
   * Calls `hit` for each rule one normalised name matches (each rule once); stops early when `hit`
   * returns true.
   */
  matchName(name: string, hit: (rule: R) => boolean | void): void {
    if (this.index.lookup(name, hit)) return;
    if (this.automaton) {
      let seen: Set<number> | undefined;
      let done = false;
      this.automaton.search(name, (id) => {
        if (done || seen?.has(id)) return;
        (seen ??= new Set()).add(id);
        done = hit(this.substrings[id]) === true;
      });
    }
  }

  /** Whether any of the normalised names matches any rule. */
  matchesAny(names: readonly string[]): boolean {
    let found = false;
    const stop = () => (found = true);
    for (let i = 0; i < names.length && !found; i++) if (names[i] !== '') this.matchName(names[i], stop);
    return found;
  }
}
