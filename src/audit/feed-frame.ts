/**
 * What `certaudit` needs from one certstream frame (pure): the entry identity (log, cert_index) of a
 * `certificate_update`, a heartbeat as liveness, and nothing else. Works with frames of the original
 * Elixir server, of this project, and of the Go and Rust servers, whose `source.url` may differ in
 * scheme or trailing slash — hence `normaliseLogUrl`.
 */

/** A frame reduced to what the audit needs. */
export type FeedFrame =
  | { kind: 'entry'; log: string; index: number }
  | { kind: 'heartbeat' }
  | { kind: 'other' };

const OTHER: FeedFrame = { kind: 'other' };
const HEARTBEAT: FeedFrame = { kind: 'heartbeat' };

/**
 * The log's identity for comparisons: `data.source.url` without scheme and without trailing slashes,
 * lower-cased host. `https://ct.googleapis.com/logs/us1/argon2025h1/` → `ct.googleapis.com/logs/us1/argon2025h1`.
 */
export function normaliseLogUrl(url: string): string {
  let s = url.trim();
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(s);
  if (scheme) s = s.slice(scheme[0].length);
  while (s.endsWith('/')) s = s.slice(0, -1);
  const slash = s.indexOf('/');
  return slash < 0 ? s.toLowerCase() : s.slice(0, slash).toLowerCase() + s.slice(slash);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Classifies one text frame. Anything that is not JSON, not a known message type, or a
 * `certificate_update` without a usable (source.url, cert_index) is `other` — a feed's oddities must
 * never stop the audit.
 */
export function parseFeedFrame(text: string): FeedFrame {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return OTHER;
  }
  if (!isRecord(msg)) return OTHER;
  const type = msg.message_type;
  if (type === 'heartbeat') return HEARTBEAT;
  if (type !== 'certificate_update') return OTHER;
  const data = msg.data;
  if (!isRecord(data)) return OTHER;
  const index = data.cert_index;
  const source = data.source;
  if (typeof index !== 'number' || !Number.isSafeInteger(index) || index < 0) return OTHER;
  if (!isRecord(source) || typeof source.url !== 'string' || source.url === '') return OTHER;
  return { kind: 'entry', log: normaliseLogUrl(source.url), index };
}
