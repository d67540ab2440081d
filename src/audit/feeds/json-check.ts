/**
 * A JSON syntax check over raw bytes (pure, allocation-free): true when the buffer is exactly one
 * JSON value with optional whitespace around it (RFC 8259 grammar; UTF-8 validity is left to the
 * WebSocket layer, which refuses invalid text frames).
 *
 * Why: the audit's fast path reads three keys out of a frame's bytes instead of parsing it, which is
 * what keeps `certaudit compare` cheap at thousands of frames a second. Without a check, a frame with
 * trailing garbage or a broken middle would still count as an entry. Scanning is several times
 * cheaper than JSON.parse, which also builds every object and string of a 2-20 kB frame.
 */

/** Deeper nesting than this is refused (certstream frames nest about 6 deep). */
const MAX_DEPTH = 64;
const OBJECT = 1;
const ARRAY = 2;
/** Open containers; module-level because the check is synchronous and never re-entered. */
const stack = new Uint8Array(MAX_DEPTH);

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function skipSpaces(b: Uint8Array, i: number): number {
  while (i < b.length && isSpace(b[i])) i++;
  return i;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isHex(c: number): boolean {
  return isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

/** Bytes that end a plain run inside a string: the quote, the backslash and control characters. */
const STRING_SPECIAL = new Uint8Array(256);
for (let c = 0; c < 0x20; c++) STRING_SPECIAL[c] = 1;
STRING_SPECIAL[0x22] = 1;
STRING_SPECIAL[0x5c] = 1;

/** End of the string starting at the quote at `i`, or -1. */
function stringEnd(b: Uint8Array, i: number): number {
  let j = i + 1;
  const n = b.length;
  for (;;) {
    // Strings are most of a frame's bytes: skip their plain runs with one table lookup per byte.
    while (j < n && STRING_SPECIAL[b[j]] === 0) j++;
    if (j >= n) return -1;
    const c = b[j];
    if (c === 0x22) return j + 1;
    if (c < 0x20) return -1;
    const e = b[j + 1];
    if (e === 0x22 || e === 0x5c || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) j += 2;
    else if (e === 0x75 && isHex(b[j + 2]) && isHex(b[j + 3]) && isHex(b[j + 4]) && isHex(b[j + 5])) j += 6;
    else return -1;
  }
}

/** End of the number starting at `i`, or -1. */
function numberEnd(b: Uint8Array, i: number): number {
  if (b[i] === 0x2d) i++;
  if (b[i] === 0x30) i++;
  else if (isDigit(b[i])) while (isDigit(b[i])) i++;
  else return -1;
  if (b[i] === 0x2e) {
    i++;
    if (!isDigit(b[i])) return -1;
    while (isDigit(b[i])) i++;
  }
  if (b[i] === 0x65 || b[i] === 0x45) {
    i++;
    if (b[i] === 0x2b || b[i] === 0x2d) i++;
    if (!isDigit(b[i])) return -1;
    while (isDigit(b[i])) i++;
  }
  return i;
}

/** End of `word` at `i`, or -1. */
function literalEnd(b: Uint8Array, i: number, word: string): number {
  for (let k = 0; k < word.length; k++) if (b[i + k] !== word.charCodeAt(k)) return -1;
  return i + word.length;
}

/** True when `b` holds exactly one JSON value (whitespace around it allowed). */
export function isJsonText(b: Uint8Array): boolean {
  let depth = 0;
  let i = skipSpaces(b, 0);
  for (;;) {
    // A value is expected at i.
    const c = b[i];
    if (c === 0x7b || c === 0x5b) {
      if (depth === MAX_DEPTH) return false;
      stack[depth++] = c === 0x7b ? OBJECT : ARRAY;
      i = skipSpaces(b, i + 1);
      if (b[i] === (c === 0x7b ? 0x7d : 0x5d)) {
        depth--;
        i++;
      } else {
        if (c === 0x7b && !(i = objectKey(b, i))) return false;
        continue;
      }
    } else if (c === 0x22) i = stringEnd(b, i);
    else if (c === 0x2d || isDigit(c)) i = numberEnd(b, i);
    else if (c === 0x74) i = literalEnd(b, i, 'true');
    else if (c === 0x66) i = literalEnd(b, i, 'false');
    else if (c === 0x6e) i = literalEnd(b, i, 'null');
    else return false;
    if (i < 0) return false;
    // After a value: close containers, or go on to the next member / element.
    for (;;) {
      i = skipSpaces(b, i);
      if (depth === 0) return i === b.length;
      const top = stack[depth - 1];
      if (b[i] === 0x2c) {
        i = skipSpaces(b, i + 1);
        if (top === OBJECT && !(i = objectKey(b, i))) return false;
        break;
      }
      if (b[i] !== (top === OBJECT ? 0x7d : 0x5d)) return false;
      depth--;
      i++;
    }
  }
}

/** Reads `"key"` + `:` at `i`; returns the position of the value after spaces, or 0 when malformed. */
function objectKey(b: Uint8Array, i: number): number {
  if (b[i] !== 0x22) return 0;
  const end = stringEnd(b, i);
  if (end < 0) return 0;
  const colon = skipSpaces(b, end);
  if (b[colon] !== 0x3a) return 0;
  return skipSpaces(b, colon + 1);
}
