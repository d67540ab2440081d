/**
 * X.509 validity times (RFC 5280 §4.1.2.5) to integer Unix seconds, the way certstream renders them.
 *
 * Compatible with the original server where it worked: UTCTime years < 50 are 20YY, ≥ 50 are 19YY;
 * exactly 9999-12-31 23:59:59 is the string "no_expiration". Where it failed we are lenient instead of
 * losing the entry: seconds may be missing, fractional seconds are dropped (truncated), a "+hhmm"/"-hhmm"
 * offset is cut off without being applied (what the original did with it), a missing "Z" is read as UTC.
 * Anything else (non-digits, month 13, February 30, ...) gives null.
 */
import { TAG } from './der.js';

/** A rendered validity bound: Unix seconds, the no_expiration sentinel, or null when unreadable. */
export type ValidityTime = number | 'no_expiration' | null;

const NO_EXPIRATION_SECONDS = Date.UTC(9999, 11, 31, 23, 59, 59) / 1000;

function digits(buf: Uint8Array, pos: number, n: number): number {
  let v = 0;
  for (let i = 0; i < n; i++) {
    const c = buf[pos + i] - 0x30;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/**
 * Decodes a UTCTime (tag 0x17) or GeneralizedTime (tag 0x18) value `buf[start, end)`.
 * @returns Unix seconds, "no_expiration", or null when the text is not a readable time.
 */
export function decodeTime(buf: Uint8Array, tag: number, start: number, end: number): ValidityTime {
  let pos = start;
  let year: number;
  if (tag === TAG.UTC_TIME) {
    if (end - pos < 10) return null;
    const yy = digits(buf, pos, 2);
    if (yy < 0) return null;
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
    pos += 2;
  } else if (tag === TAG.GENERALIZED_TIME) {
    if (end - pos < 12) return null;
    year = digits(buf, pos, 4);
    if (year < 0) return null;
    pos += 4;
  } else {
    return null;
  }
  const month = digits(buf, pos, 2);
  const day = digits(buf, pos + 2, 2);
  const hour = digits(buf, pos + 4, 2);
  const minute = digits(buf, pos + 6, 2);
  pos += 8;
  let second = 0;
  if (end - pos >= 2 && buf[pos] >= 0x30 && buf[pos] <= 0x39) {
    second = digits(buf, pos, 2);
    pos += 2;
  }
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return null;
  // Fractional seconds: dropped (truncation).
  if (pos < end && (buf[pos] === 0x2e || buf[pos] === 0x2c)) {
    pos++;
    const fracStart = pos;
    while (pos < end && buf[pos] >= 0x30 && buf[pos] <= 0x39) pos++;
    if (pos === fracStart) return null;
  }
  if (pos < end) {
    const c = buf[pos];
    if (c === 0x5a /* Z */) pos++;
    else if (c === 0x2b /* + */ || c === 0x2d /* - */) {
      // The offset is cut off, not applied (the original server's behaviour).
      if (end - pos !== 5 || digits(buf, pos + 1, 4) < 0) return null;
      pos += 5;
    }
  }
  if (pos !== end) return null;
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  // Date.UTC maps years 0..99 to 1900+; only GeneralizedTime can produce them.
  const seconds = year < 100 ? new Date(ms).setUTCFullYear(year) / 1000 : ms / 1000;
  return seconds === NO_EXPIRATION_SECONDS ? 'no_expiration' : seconds;
}
