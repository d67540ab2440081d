/**
 * Matches certificate names against a watch list, fast: the cost per name does not grow with the
 * number of rules (20,000 names/s on one core with 10,000 domain rules and 100 substrings is the goal;
 * `npm run bench:watch` measures it).
 * - domain rules (`example.com`): a Map lookup per label suffix of the name (`a.b.example.com`,
 *   `b.example.com`, `example.com`, `com`);
 * - exact rules (`=example.com`): one Map lookup;
 * - substring rules (`~paypal`): one pass of an Aho-Corasick automaton over the name;
 * - regex rules: in a worker with a time limit (regex-guard.ts), the only asynchronous part.
 */
import { AhoCorasick } from './aho-corasick.js';
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
  private readonly domains = new Map<string, Rule>();
  private readonly exact = new Map<string, Rule>();
  private readonly substrings: Rule[] = [];
  private readonly automaton: AhoCorasick | undefined;
  private readonly regexRules: Rule[] = [];
  /** The regex worker, when the list has regex rules. */
  readonly guard: RegexGuard | undefined;

  constructor(rules: readonly Rule[], guardOptions: RegexGuardOptions = {}) {
    for (const r of rules) {
      if (r.kind === 'domain') this.domains.set(r.value, r);
      else if (r.kind === 'exact') this.exact.set(r.value, r);
      else if (r.kind === 'substring') this.substrings.push(r);
      else this.regexRules.push(r);
    }
    this.automaton = this.substrings.length > 0 ? new AhoCorasick(this.substrings.map((r) => r.value)) : undefined;
    if (this.regexRules.length > 0) {
      this.guard = new RegexGuard(
        this.regexRules.map((r, id) => ({ id, source: r.value, flags: r.flags, text: r.text })),
        guardOptions,
      );
    }
  }

  /** The synchronous rules (domain, exact, substring) for one normalised name; calls `hit` per rule. */
  matchName(name: string, hit: (rule: Rule) => void): void {
    const e = this.exact.get(name);
    if (e) hit(e);
    if (this.domains.size > 0) {
      let at = 0;
      for (;;) {
        const d = this.domains.get(at === 0 ? name : name.slice(at));
        if (d) hit(d);
        const dot = name.indexOf('.', at);
        if (dot < 0) break;
        at = dot + 1;
      }
    }
    if (this.automaton) {
      let seen: Set<number> | undefined;
      this.automaton.search(name, (id) => {
        if (seen?.has(id)) return;
        (seen ??= new Set()).add(id);
        hit(this.substrings[id]);
      });
    }
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
