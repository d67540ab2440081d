/**
 * Matches normalised names against name rules, fast: the cost per name does not grow with the number
 * of rules. Shared by certstream-watch (watch/matcher.ts adds regex rules) and the server's `match=`
 * filter (stream/filter-sets.ts).
 * - domain rules (`example.com`): a Map lookup per label suffix of the name (`a.b.example.com`,
 *   `b.example.com`, `example.com`, `com`);
 * - exact rules (`=example.com`): one Map lookup;
 * - substring rules (`~paypal`): one pass of an Aho-Corasick automaton over the name.
 */
import { AhoCorasick } from './aho-corasick.js';
import type { NameRule } from './name-rule.js';

export class NameMatcher<R extends NameRule = NameRule> {
  private readonly domains = new Map<string, R>();
  private readonly exact = new Map<string, R>();
  private readonly substrings: R[] = [];
  private readonly automaton: AhoCorasick | undefined;

  /** @param rules name rules; a later rule of the same kind and value replaces an earlier one */
  constructor(rules: Iterable<R>) {
    for (const r of rules) {
      if (r.kind === 'domain') this.domains.set(r.value, r);
      else if (r.kind === 'exact') this.exact.set(r.value, r);
      else this.substrings.push(r);
    }
    this.automaton = this.substrings.length > 0 ? new AhoCorasick(this.substrings.map((r) => r.value)) : undefined;
  }

  /**
   * Calls `hit` for each rule one normalised name matches (each rule once); stops early when `hit`
   * returns true.
   */
  matchName(name: string, hit: (rule: R) => boolean | void): void {
    const e = this.exact.get(name);
    if (e && hit(e) === true) return;
    if (this.domains.size > 0) {
      let at = 0;
      for (;;) {
        const d = this.domains.get(at === 0 ? name : name.slice(at));
        if (d && hit(d) === true) return;
        const dot = name.indexOf('.', at);
        if (dot < 0) break;
        at = dot + 1;
      }
    }
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
