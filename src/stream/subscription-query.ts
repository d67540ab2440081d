/**
 * The query parameters of a stream request (interface.md, "Lossless delivery"): `id=NAME` (a durable
 * subscription) and `since=SECONDS` (replay from a time); `match=RULES` ("Server-side filtering",
 * filter-rules.ts); `verified=1` ("Verified logs": only entries a verified signed head covers; `0` is
 * the default, anything else is refused). Pure; a bad value is a one-line message that
 * the hub answers with HTTP 400 before the upgrade.
 */
import { parseFilterRules, type FilterRules } from './filter-rules.js';

export interface SubscriptionQuery {
  /** Durable subscription name: 1–64 of A-Z a-z 0-9 . _ - */
  readonly id?: string;
  /** Epoch seconds, decimals allowed. */
  readonly since?: number;
  /** Only entries with a name matching one of these rules. */
  readonly match?: FilterRules;
  /** `verified=1`: only entries a verified signed tree head covers. */
  readonly verified?: boolean;
}

const NAME = /^[A-Za-z0-9._-]{1,64}$/;

/** Parses `id`, `since`, `match` and `verified` from a request URL (other parameters are ignored, as before). */
export function parseSubscriptionQuery(url: string | undefined): SubscriptionQuery | { error: string } {
  const q = (url ?? '').indexOf('?');
  if (q < 0) return {};
  const params = new URLSearchParams((url ?? '').slice(q + 1).replace(/#.*$/, ''));
  const ids = params.getAll('id');
  const sinces = params.getAll('since');
  if (ids.length > 1) return { error: 'id given more than once' };
  if (sinces.length > 1) return { error: 'since given more than once' };
  const matches = params.getAll('match');
  if (matches.length > 1) return { error: 'match given more than once (separate its rules with commas)' };
  const verifieds = params.getAll('verified');
  if (verifieds.length > 1) return { error: 'verified given more than once' };
  if (verifieds.length === 1 && verifieds[0] !== '1' && verifieds[0] !== '0') {
    return { error: `bad verified ${JSON.stringify(verifieds[0].slice(0, 80))}: 1 (only entries a verified signed tree head covers) or 0` };
  }
  const out: { id?: string; since?: number; match?: FilterRules; verified?: boolean } = {};
  if (verifieds[0] === '1') out.verified = true;
  if (ids.length === 1) {
    if (!NAME.test(ids[0])) return { error: `bad id ${JSON.stringify(ids[0].slice(0, 80))}: 1-64 characters of A-Z a-z 0-9 . _ -` };
    out.id = ids[0];
  }
  if (sinces.length === 1) {
    const s = sinces[0];
    const n = /^\d+(\.\d+)?$/.test(s) ? Number(s) : NaN;
    if (!Number.isFinite(n)) return { error: `bad since ${JSON.stringify(s.slice(0, 80))}: epoch seconds, e.g. 1767225600 or 1767225600.5` };
    out.since = n;
  }
  if (matches.length === 1) {
    const rules = parseFilterRules(matches[0]);
    if ('error' in rules) return rules;
    out.match = rules;
  }
  return out;
}
