/**
 * One name rule, the syntax shared by certstream-watch's watch file and the server's `match=` filter
 * (interface.md): `example.com` (that domain and every subdomain), `=example.com` (exactly that name),
 * `~paypal` (the text anywhere in a name). Names and rule texts are compared after `normaliseName`:
 * lower-cased, IDNA (punycode) labels decoded to Unicode, a leading `*.` and a trailing dot removed.
 * Pure. Regular expressions are certstream-watch's own (watch/rules.ts), never the server's.
 */
import { domainToUnicode } from 'node:url';

/** The kinds of name rule (matched synchronously by NameMatcher). */
export type NameRuleKind = 'domain' | 'exact' | 'substring';

/** A parsed name rule: its kind and normalised value (domain, name or substring). */
export interface NameRule {
  kind: NameRuleKind;
  value: string;
}

// After decoding, a name may hold Unicode letters; what it must not hold is whitespace, slashes and
// other characters no DNS name (or certificate name) carries.
const BAD_NAME_CHAR = /[\s/\\@#?"'<>|^`{}[\]]/u;

/**
 * The form names are matched in: lower case, each `xn--` label decoded, without a leading `*.` and
 * without a trailing dot. Idempotent. A label that is not valid punycode is kept as written (lower-cased)
 * rather than dropped: the raw name still matches rules written in its raw form.
 */
export function normaliseName(name: string): string {
  let s = name.trim().toLowerCase();
  if (s.startsWith('*.')) s = s.slice(2);
  if (s.endsWith('.')) s = s.slice(0, -1);
  if (s.includes('xn--')) {
    const u = domainToUnicode(s);
    if (u !== '') s = u;
  }
  return s;
}

function nameProblem(value: string): string | undefined {
  if (value === '') return 'the rule is empty';
  if (BAD_NAME_CHAR.test(value)) return `'${value}' is not a domain name (no spaces, slashes or quotes)`;
  if (value.startsWith('.') || value.includes('..')) return `'${value}' has an empty label`;
  return undefined;
}

/** A one-line reason when a rule text holds control characters (no name does), else undefined. */
export function controlCharsProblem(text: string): string | undefined {
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/.test(text)) return `'${JSON.stringify(text).slice(1, -1)}': a rule cannot hold control characters`;
  return undefined;
}

/**
 * Parses one rule text (trimmed, non-empty, not a regex): the rule, or a one-line reason naming it.
 */
export function parseNameRule(text: string): NameRule | { problem: string } {
  if (text.startsWith('~')) {
    const value = text.slice(1).trim().toLowerCase();
    if (value === '') return { problem: `'${text}': a substring rule needs text after '~'` };
    if (/\s/.test(value)) return { problem: `'${text}': a substring cannot contain whitespace` };
    return { kind: 'substring', value: value.includes('xn--') ? normaliseName(value) : value };
  }
  const exact = text.startsWith('=');
  const value = normaliseName(exact ? text.slice(1).trim() : text);
  const problem = nameProblem(value);
  if (problem) return { problem };
  return { kind: exact ? 'exact' : 'domain', value };
}

/** A key equal for two rules exactly when they match the same names. */
export function nameRuleKey(rule: NameRule): string {
  return `${rule.kind}\u0000${rule.value}`;
}
