/**
 * Matches certificate names against a watch list, fast: the cost per name does not grow with the
 * number of rules (20,000 names/s on one core with 10,000 domain rules and 100 substrings is the goal;
 * `npm run bench:watch` measures it).
 * - domain, exact and substring rules: the matcher shared with the server's `match=` filter
 *   (match/name-matcher.ts: label-suffix maps and an Aho-Corasick automaton);
 * - regex rules: in a worker with a time limit (regex-guard.ts), the only asynchronous part.
 */
import { NameMatcher } from '../match/name-matcher.js';
import type { NameRule } from '../match/name-rule.js';
import { RegexGuard, type RegexGuardOptions } from './regex-guard.js';
import { normaliseName, type Rule } from './rules.js';

/** One match: the normalised name and the rule it matched. */
export interface NameMatch {
  /** Index of the name in the batch given to `match`. */
  index: number;
  /** The name after normalisation (what is stored and alerted). */
  name: string;
  rule: Rule;
}

export class Matcher {
  private readonly names: NameMatcher<Rule & NameRule>;
  private readonly regexRules: Rule[] = [];
  /** The regex worker, when the list has regex rules. */
  readonly guard: RegexGuard | undefined;

  constructor(rules: readonly Rule[], guardOptions: RegexGuardOptions = {}) {
    const nameRules: (Rule & NameRule)[] = [];
    for (const r of rules) {
      if (r.kind === 'regex') this.regexRules.push(r);
      else nameRules.push(r as Rule & NameRule);
    }
    this.names = new NameMatcher(nameRules);
    if (this.regexRules.length > 0) {
      this.guard = new RegexGuard(
        this.regexRules.map((r, id) => ({ id, source: r.value, flags: r.flags, text: r.text })),
        guardOptions,
      );
    }
  }

  /** The synchronous rules (domain, exact, substring) for one normalised name; calls `hit` per rule. */
  matchName(name: string, hit: (rule: Rule) => void): void {
    this.names.matchName(name, (rule) => {
      hit(rule);
    });
  }

  /**
   * Every (name, rule) match of a batch of raw certificate names (any case, punycode, wildcards).
   * Names are normalised first; the same normalised name twice in a batch is matched at each index
   * (callers pass one certificate's names de-duplicated, or several certificates' names).
   */
  async match(rawNames: readonly string[]): Promise<NameMatch[]> {
    const names = rawNames.map(normaliseName);
    const out: NameMatch[] = [];
    for (let i = 0; i < names.length; i++) {
      const name = names[i];
      if (name === '') continue;
      this.matchName(name, (rule) => out.push({ index: i, name, rule }));
    }
    if (this.guard) {
      for (const h of await this.guard.match(names)) {
        if (names[h.name] !== '') out.push({ index: h.name, name: names[h.name], rule: this.regexRules[h.rule] });
      }
    }
    return out;
  }

  /** Stops the regex worker. */
  async close(): Promise<void> {
    await this.guard?.close();
  }
}
