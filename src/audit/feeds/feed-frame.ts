/**
 * What `certaudit` needs from one certstream frame (pure): the entry identity (log, cert_index) of a
 * `certificate_update`, a heartbeat as liveness, and nothing else. Works with frames of the original
 * Elixir server, of this project, of the Python server (spaces after separators), and of the Go and
 * Rust servers, whose `source.url` may differ in scheme or trailing slash — hence `normaliseLogUrl`.
 *
 * `parseFeedFrameBytes` is the hot path (thousands of frames a second per feed): it finds the three
 * keys in the raw bytes instead of parsing the whole frame (a lite frame is ~1.7 kB, a full one much
 * more), and falls back to `parseFeedFrame` (JSON.parse) whenever the frame is not plainly shaped.
 * Every frame is first checked to be well-formed JSON by a byte scan (json-check.ts), so the fast
 * path accepts exactly what JSON.parse would.
 */
import { isJsonText } from './json-check.js';

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

const Q = 0x22; // "
const BACKSLASH = 0x5c;

function skipSpaces(buf: Buffer, i: number): number {
  while (i < buf.length && (buf[i] === 0x20 || buf[i] === 0x0a || buf[i] === 0x0d || buf[i] === 0x09)) i++;
  return i;
}

/** Position just after `"key"` + optional spaces + `:` + optional spaces, or -1. */
function valueOf(buf: Buffer, key: string, from = 0): number {
  const at = buf.indexOf(`"${key}"`, from, 'latin1');
  if (at < 0) return -1;
  let i = skipSpaces(buf, at + key.length + 2);
  if (buf[i] !== 0x3a) return -1;
  i = skipSpaces(buf, i + 1);
  return i;
}

/** The plain (escape-free) string starting at `i` (which must be a quote), or undefined. */
function plainString(buf: Buffer, i: number): string | undefined {
  if (i < 0 || buf[i] !== Q) return undefined;
  const end = buf.indexOf(Q, i + 1);
  if (end < 0 || buf.subarray(i + 1, end).includes(BACKSLASH)) return undefined;
  return buf.toString('utf8', i + 1, end);
}

/** Cache of normalised log identities by raw `source.url`: a feed names a few dozen logs. */
const logIds = new Map<string, string>();

function logId(url: string): string {
  let id = logIds.get(url);
  if (id === undefined) {
    id = normaliseLogUrl(url);
    if (logIds.size < 10_000) logIds.set(url, id);
  }
  return id;
}

/**
 * `parseFeedFrame` for a raw WebSocket message, without parsing the whole frame when it need not.
 * In JSON an unescaped `"key":` can only be a key (a quote inside a string is escaped), so finding the
 * keys in the bytes is safe; anything unusual goes through JSON.parse.
 */
export function parseFeedFrameBytes(buf: Buffer): FeedFrame {
  // The key search below would accept a frame with trailing garbage or a broken middle.
  if (!isJsonText(buf)) return OTHER;
  const first = skipSpaces(buf, 0);
  if (buf[first] !== 0x7b) return OTHER;
  const type = plainString(buf, valueOf(buf, 'message_type'));
  if (type === 'heartbeat') return HEARTBEAT;
  if (type !== 'certificate_update') return type === undefined ? parseFeedFrame(buf.toString('utf8')) : OTHER;
  let i = valueOf(buf, 'cert_index');
  let index = 0;
  let digits = 0;
  while (i >= 0 && i < buf.length && buf[i] >= 0x30 && buf[i] <= 0x39 && digits < 16) {
    index = index * 10 + (buf[i] - 0x30);
    i++;
    digits++;
  }
  const src = valueOf(buf, 'source');
  // The url must lie inside the source object (before its first closing brace).
  const urlAt = src >= 0 && buf[src] === 0x7b ? valueOf(buf, 'url', src) : -1;
  const url = urlAt >= 0 && urlAt < buf.indexOf(0x7d, src) ? plainString(buf, urlAt) : undefined;
  const next = i >= 0 && i < buf.length ? buf[i] : 0;
  const cleanEnd = next === 0x2c || next === 0x7d || next === 0x20 || next === 0x0a || next === 0x0d || next === 0x09;
  if (digits === 0 || !cleanEnd || !Number.isSafeInteger(index) || url === undefined || url === '') {
    return parseFeedFrame(buf.toString('utf8'));
  }
  return { kind: 'entry', log: logId(url), index };
}
