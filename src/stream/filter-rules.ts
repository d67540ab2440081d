/**
 * The `match=RULES` query parameter of a stream request (interface.md, "Server-side filtering"), parsed
 * purely: comma-separated name rules of the certstream-watch syntax (`example.com`, `=example.com`,
 * `~paypal`; match/name-rule.ts), at most MAX_FILTER_RULES rules and MAX_FILTER_BYTES bytes (UTF-8, after
 * URL-decoding). No regular expressions: every rule costs the server a Map lookup or an automaton
 * state, never a backtracking search. A malformed set is a one-line reason the hub answers with HTTP 400.
 */
import { controlCharsProblem, nameRuleKey, parseNameRule, type NameRule } from '../match/name-rule.js';

/** Most rules in one `match=`. */
export const MAX_FILTER_RULES = 1000;
/** Most bytes (UTF-8, URL-decoded) of one `match=`. */
export const MAX_FILTER_BYTES = 16 * 1024;

/** A parsed rule set: its rules (each once) and the key two equal sets share. */
export interface FilterRules {
  readonly rules: readonly NameRule[];
  /**
   * The normalised set: equal for two `match=` values that select the same names whatever their order,
   * case, punycode, `*.` prefixes or repeats (the filter cache's key).
   */
  readonly key: string;
  /** UTF-8 bytes of the normalised rules (what the compiled matcher's size grows with). */
  readonly bytes: number;
}

/** Parses a `match=` value (URL-decoded): the rule set, or a one-line reason. */
export function parseFilterRules(value: string): FilterRules | { error: string } {
  if (Buffer.byteLength(value, 'utf8') > MAX_FILTER_BYTES) return { error: `match is over ${MAX_FILTER_BYTES} bytes (${Buffer.byteLength(value, 'utf8')})` };
  const texts = value.split(',');
  if (texts.length > MAX_FILTER_RULES) return { error: `match has ${texts.length} rules, at most ${MAX_FILTER_RULES} are accepted` };
  const byKey = new Map<string, NameRule>();
  for (let i = 0; i < texts.length; i++) {
    const text = texts[i].trim();
    const where = `match rule ${i + 1}`;
    if (text === '') return { error: `${where} is empty (rules are separated by single commas)` };
    const control = controlCharsProblem(text);
    if (control !== undefined) return { error: `${where}: ${control}` };
    if (text.startsWith('/')) return { error: `${where} '${clip(text)}': regular expressions are not accepted on the server (use example.com, =name or ~text)` };
    const r = parseNameRule(text);
    if ('problem' in r) return { error: `${where}: ${clip(r.problem)}` };
    byKey.set(nameRuleKey(r), r);
  }
  const keys = [...byKey.keys()].sort();
  const key = keys.join('\n');
  return { rules: keys.map((k) => byKey.get(k)!), key, bytes: Buffer.byteLength(key, 'utf8') };
}

/** A rule quoted in a one-line reason, cut to a readable length. */
function clip(text: string): string {
  return text.length > 100 ? `${text.slice(0, 100)}…` : text;
}
