/**
 * What a followed feed produces, live or replayed: connection events, entry identities and
 * heartbeats, each with its time in ms since the epoch. The same objects are the lines of a
 * `certaudit record` file (NDJSON, one event per line), so a recording replays exactly what the live
 * comparison saw. Encoding and decoding here are pure.
 *
 * Recording format, version 1 (one JSON object per line, `ev` first):
 *   {"ev":"start","t":1764118923000,"feed":"ws://127.0.0.1:4000/","v":1}
 *   {"ev":"connect","t":...}
 *   {"ev":"entry","t":...,"log":"ct.googleapis.com/logs/us1/argon2025h1","index":123}
 *   {"ev":"heartbeat","t":...}          {"ev":"other","t":...}   (any other frame)
 *   {"ev":"disconnect","t":...,"code":1006,"reason":"..."}
 *   {"ev":"range","t":...,"log":"...","lo":1000,"hi":1999}   (the ct feed: the log appended lo..hi)
 *   {"ev":"end","t":...}
 */
import { CertstreamError } from '../../errors.js';

/** Recording format version written in the `start` line. */
export const RECORDING_VERSION = 1;

export type FeedEvent =
  | { ev: 'start'; t: number; feed: string; v: number }
  | { ev: 'connect'; t: number }
  | { ev: 'disconnect'; t: number; code?: number; reason?: string }
  | { ev: 'entry'; t: number; log: string; index: number }
  | { ev: 'range'; t: number; log: string; lo: number; hi: number }
  | { ev: 'heartbeat'; t: number }
  | { ev: 'other'; t: number }
  | { ev: 'end'; t: number };

/** One recording line (with its newline) for an event. Entry lines are built by hand: they are the hot path. */
export function encodeEvent(e: FeedEvent): string {
  if (e.ev === 'entry') return `{"ev":"entry","t":${e.t},"log":${JSON.stringify(e.log)},"index":${e.index}}\n`;
  return `${JSON.stringify(e)}\n`;
}

function bad(where: string, message: string): CertstreamError {
  return new CertstreamError('AUDIT_ERR_BAD_RECORDING', `${where}: ${message}`);
}

function int(o: Record<string, unknown>, key: string, where: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw bad(where, `"${key}" must be a non-negative integer`);
  return v;
}

/**
 * Parses one recording line. `where` names the file and line for the error message.
 * @throws CertstreamError AUDIT_ERR_BAD_RECORDING on anything that is not a version-1 event
 */
export function decodeEvent(line: string, where: string): FeedEvent {
  let o: unknown;
  try {
    o = JSON.parse(line);
  } catch {
    throw bad(where, 'not JSON');
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw bad(where, 'not a JSON object');
  const r = o as Record<string, unknown>;
  const t = int(r, 't', where);
  switch (r.ev) {
    case 'start': {
      if (typeof r.feed !== 'string') throw bad(where, '"feed" must be a string');
      const v = int(r, 'v', where);
      if (v !== RECORDING_VERSION) throw bad(where, `recording format version ${v} is not supported`);
      return { ev: 'start', t, feed: r.feed, v };
    }
    case 'entry':
      if (typeof r.log !== 'string' || r.log === '') throw bad(where, '"log" must be a non-empty string');
      return { ev: 'entry', t, log: r.log, index: int(r, 'index', where) };
    case 'range': {
      if (typeof r.log !== 'string' || r.log === '') throw bad(where, '"log" must be a non-empty string');
      const lo = int(r, 'lo', where);
      const hi = int(r, 'hi', where);
      if (hi < lo) throw bad(where, '"hi" is below "lo"');
      return { ev: 'range', t, log: r.log, lo, hi };
    }
    case 'disconnect': {
      const e: FeedEvent = { ev: 'disconnect', t };
      if (r.code !== undefined) e.code = int(r, 'code', where);
      if (typeof r.reason === 'string') e.reason = r.reason;
      return e;
    }
    case 'connect':
    case 'heartbeat':
    case 'other':
    case 'end':
      return { ev: r.ev, t };
    default:
      throw bad(where, `unknown event ${JSON.stringify(r.ev)}`);
  }
}
