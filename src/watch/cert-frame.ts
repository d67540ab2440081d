/**
 * What certstream-watch needs from one certstream frame (pure): the entry's identity (log, cert_index),
 * its names, and the certificate fields a match row keeps (interface.md: fingerprint, issuer,
 * not_before, not_after, update_type; plus the serial, which with the issuer pairs a precertificate
 * with its final certificate). Any frame that is not a usable `certificate_update` is `undefined`:
 * a feed's oddities never stop the watcher, they are counted by the caller.
 */
import { createHash } from 'node:crypto';
import { normaliseLogUrl } from '../audit/feeds/feed-frame.js';

/** One certificate of the stream, reduced to what a match row holds. */
export interface CertEntry {
  /** `data.source.url` without scheme and trailing slash (as certaudit identifies logs). */
  log: string;
  index: number;
  /** `X509LogEntry` or `PrecertLogEntry`. */
  updateType: string;
  /** `data.leaf_cert.all_domains`, as streamed. */
  domains: string[];
  fingerprint: string;
  serial: string;
  /** `issuer.aggregated` (e.g. `/C=US/O=Let's Encrypt/CN=R11`). */
  issuer: string;
  /** Validity, epoch seconds (null when the stream says so). */
  notBefore: number | null;
  notAfter: number | null;
  /** `data.seen`, epoch seconds: when the server saw the entry. */
  seen: number;
  /** `subject.aggregated`. */
  subject: string;
  /** SHA-256 of the leaf's DER (`as_der`, full stream only), lower-case hex; '' without it. */
  certSha256: string;
}

function rec(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function time(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** Parses one text frame; `undefined` for heartbeats, other message types and malformed updates. */
export function parseCertFrame(text: string): CertEntry | undefined {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return undefined;
  }
  const m = rec(msg);
  if (!m || m.message_type !== 'certificate_update') return undefined;
  const data = rec(m.data);
  const source = rec(data?.source);
  const leaf = rec(data?.leaf_cert);
  if (!data || !source || !leaf) return undefined;
  const index = data.cert_index;
  if (typeof index !== 'number' || !Number.isSafeInteger(index) || index < 0) return undefined;
  if (typeof source.url !== 'string' || source.url === '') return undefined;
  const domains = Array.isArray(leaf.all_domains) ? leaf.all_domains.filter((d): d is string => typeof d === 'string') : [];
  return {
    log: normaliseLogUrl(source.url),
    index,
    updateType: str(data.update_type),
    domains,
    fingerprint: str(leaf.fingerprint),
    serial: str(leaf.serial_number),
    issuer: str(rec(leaf.issuer)?.aggregated),
    notBefore: time(leaf.not_before),
    notAfter: time(leaf.not_after),
    seen: typeof data.seen === 'number' ? data.seen : Date.now() / 1000,
    subject: str(rec(leaf.subject)?.aggregated),
    certSha256: typeof leaf.as_der === 'string' && leaf.as_der !== '' ? createHash('sha256').update(Buffer.from(leaf.as_der, 'base64')).digest('hex') : '',
  };
}

/** True for a heartbeat frame (liveness only). */
export function isHeartbeat(text: string): boolean {
  return text.includes('"heartbeat"') && text.length < 200;
}
