/**
 * The JSON body of a webhook POST (pure): the match's fields under stable keys, plus a `text` line so
 * that a Slack or Mattermost incoming webhook shows it as a message without any adapter. `id` is the
 * match's identity (log, cert_index, domain, rule), the same on every retry and after a restart: a
 * receiver de-duplicates on it (it is also sent as the `Idempotency-Key` header).
 */
import { percentEscape } from './names.js';
import type { StoredMatch } from './store.js';

/** The body of one alert. */
export interface WebhookBody {
  text: string;
  /** Printable ASCII whatever the match holds (it is a header value too). */
  id: string;
  /** The name in ASCII (punycode) form. */
  domain: string;
  /** The name decoded, for display. */
  domain_unicode: string;
  rule: string;
  log: string;
  cert_index: number;
  update_type: string;
  fingerprint: string;
  serial: string;
  issuer: string;
  /** ISO 8601, or null when unknown. */
  not_before: string | null;
  not_after: string | null;
  /** When the watcher recorded the match, ISO 8601. */
  time: string;
}

/**
 * The identity of a match, stable across retries and restarts, in printable ASCII: a rule may be
 * written in Unicode and a log URL may hold anything, so everything else is percent-escaped
 * (names.ts), and the key is always a valid header value.
 */
export function matchKey(m: Pick<StoredMatch, 'log' | 'certIndex' | 'domain' | 'rule'>): string {
  return percentEscape(`${m.log}#${m.certIndex}#${m.domain}#${m.rule}`);
}

function iso(epochSeconds: number | null): string | null {
  return epochSeconds === null ? null : new Date(epochSeconds * 1000).toISOString();
}

/** Builds the body for a match. */
export function webhookBody(m: StoredMatch): WebhookBody {
  const kind = m.updateType === 'PrecertLogEntry' ? 'precertificate' : 'certificate';
  return {
    text: `certstream-watch: ${m.domainUnicode === m.domain ? m.domain : `${m.domainUnicode} (${m.domain})`} matched rule ${m.rule} (${kind} from ${m.issuer || 'unknown issuer'}, ${m.log} #${m.certIndex})`,
    id: matchKey(m),
    domain: m.domain,
    domain_unicode: m.domainUnicode,
    rule: m.rule,
    log: m.log,
    cert_index: m.certIndex,
    update_type: m.updateType,
    fingerprint: m.fingerprint,
    serial: m.serial,
    issuer: m.issuer,
    not_before: iso(m.notBefore),
    not_after: iso(m.notAfter),
    time: iso(m.time)!,
  };
}
