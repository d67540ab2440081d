/**
 * The watch file of `certstream-watch` (interface.md, "certstream-watch"), parsed purely: one rule a
 * line, `#` starts a comment (whole line or after the rule), blank lines are ignored.
 *   example.com    that domain and every subdomain
 *   =example.com   exactly that name
 *   ~paypal        the text anywhere in a name
 *   /regex/flags   a JavaScript regular expression (flags: i m s u; evaluated with a time limit)
 * The first three are the name rules shared with the server's `match=` filter (match/name-rule.ts, where
 * names and rule texts are normalised). Every problem is reported, each with its line number, so an
 * operator fixes the file in one go.
 */
import { controlCharsProblem, parseNameRule } from '../match/name-rule.js';

export { normaliseName } from '../match/name-rule.js';

/** The kinds of rule. */
export type RuleKind = 'domain' | 'exact' | 'substring' | 'regex';

/** One parsed rule. `text` is the rule as written (trimmed), the label reported with every match. */
export interface Rule {
  kind: RuleKind;
  text: string;
  /** The normalised domain, name or substring; the regex source for `regex`. */
  value: string;
  /** Regex flags (only for `regex`). */
  flags: string;
  /** 1-based line in the watch file. */
  line: number;
}

/** One problem in the watch file. */
export interface RuleProblem {
  line: number;
  message: string;
}

/** The result of parsing a watch file: the rules, and every problem found (empty when valid). */
export interface ParsedWatchFile {
  rules: Rule[];
  problems: RuleProblem[];
}

const ALLOWED_FLAGS = /^[imsu]*$/;

/** Strips a `#` comment that starts the line or follows whitespace (a regex may hold `#`). */
function stripComment(line: string): string {
  const t = line.trim();
  if (t.startsWith('#')) return '';
  if (t.startsWith('/')) {
    // A regex rule ends at its last slash; a comment may follow it after whitespace.
    const m = /^(\/.*\/[a-z]*)(?:\s+#.*)?$/.exec(t);
    return m ? m[1] : t;
  }
  const hash = t.search(/\s#/);
  return (hash < 0 ? t : t.slice(0, hash)).trim();
}

/** Parses one rule text (comment already removed, non-empty). */
function parseRule(text: string, line: number): Rule | RuleProblem {
  // A rule is stored with every match (and PostgreSQL's TEXT cannot hold NUL): no control characters.
  const control = controlCharsProblem(text);
  if (control !== undefined) return { line, message: control };
  if (text.startsWith('/')) {
    const m = /^\/(.+)\/([a-z]*)$/s.exec(text);
    if (!m) return { line, message: `'${text}': a regular expression rule is /pattern/ (flags i, m, s, u allowed after it)` };
    if (!ALLOWED_FLAGS.test(m[2])) return { line, message: `'${text}': regex flags may only be i, m, s, u` };
    try {
      new RegExp(m[1], m[2]);
    } catch (err) {
      return { line, message: `'${text}': invalid regular expression: ${(err as Error).message}` };
    }
    return { kind: 'regex', text, value: m[1], flags: m[2], line };
  }
  const r = parseNameRule(text);
  if ('problem' in r) return { line, message: r.problem };
  return { ...r, text, flags: '', line };
}

/**
 * Parses a watch file. Duplicate rules (same text) are a problem too: one of them would never report.
 * An empty file (no rules) is a problem: a watcher that can never match is a mistake.
 */
export function parseWatchFile(content: string): ParsedWatchFile {
  const rules: Rule[] = [];
  const problems: RuleProblem[] = [];
  const seen = new Map<string, number>();
  const lines = content.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const text = stripComment(lines[i]);
    if (text === '') continue;
    const r = parseRule(text, i + 1);
    if ('message' in r) {
      problems.push(r);
      continue;
    }
    const key = `${r.kind}\u0000${r.value}\u0000${r.flags}`;
    const first = seen.get(key);
    if (first !== undefined) {
      problems.push({ line: i + 1, message: `'${text}' repeats the rule of line ${first}` });
      continue;
    }
    seen.set(key, i + 1);
    rules.push(r);
  }
  if (rules.length === 0 && problems.length === 0) problems.push({ line: 0, message: 'the watch file holds no rule' });
  return { rules, problems };
}
