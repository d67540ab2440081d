/**
 * The get-entries response body, read with a bound (pure). A response for N requested entries holds at
 * most N items of two base64 strings each, so its structure is bounded by N whatever its byte size.
 * JSON.parse of an arbitrary body is not: 60 MB of `{},{},…` (under the 64 MiB body cap) is 20 million
 * objects, enough to exhaust the heap. So the body's structure is checked first, by a scan that
 * allocates nothing and skips over strings: it counts containers ({ [) and separators (,) against N and
 * measures each item against the per-entry size limit, and only a body within both is parsed.
 */
import { CertstreamError } from '../errors.js';
import { MAX_GET_ENTRIES_ITEM_BYTES } from './size-limits.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const OPEN_ARRAY = 0x5b;
const CLOSE_OBJECT = 0x7d;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;

/**
 * Containers and separators a body of `asked` items may hold. A real item is one object with one comma
 * inside and one after it; 16 per item leaves room for logs that add a few fields, and 64 for extra
 * top-level keys. The point is the order of magnitude: 16 × 1024 small values are harmless, 20 million are not.
 */
export function structureBudget(asked: number): number {
  return 16 * asked + 64;
}

/**
 * Checks the structure of a get-entries body and parses it; returns the `entries` array.
 * @param asked number of entries requested (end − start + 1)
 * @param maxItemBytes largest accepted item, bytes of JSON (default MAX_GET_ENTRIES_ITEM_BYTES)
 * @throws CertstreamError CT_ERR_BAD_RESPONSE when the body is not JSON, has no entries array, or is
 *   larger in structure than `asked` items or has an item over the size limit
 */
export function parseGetEntriesBody(body: Uint8Array, asked: number, maxItemBytes = MAX_GET_ENTRIES_ITEM_BYTES): unknown[] {
  checkStructure(body, asked, maxItemBytes);
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
  } catch (err) {
    throw new CertstreamError('CT_ERR_BAD_RESPONSE', 'get-entries: body is not JSON', { cause: err });
  }
  const items = (doc as { entries?: unknown } | null)?.entries;
  if (!Array.isArray(items)) throw new CertstreamError('CT_ERR_BAD_RESPONSE', 'get-entries: no entries array');
  return items;
}

function checkStructure(body: Uint8Array, asked: number, maxItemBytes: number): void {
  const bad = (why: string) => new CertstreamError('CT_ERR_BAD_RESPONSE', `get-entries: ${why}`);
  const budget = structureBudget(asked);
  let used = 0;
  let depth = 0;
  // Where the current depth-2 container (an item of the entries array) began.
  let itemStart = -1;
  const n = body.length;
  for (let i = 0; i < n; i++) {
    const c = body[i];
    if (c === QUOTE) {
      i = stringEnd(body, i);
      if (i < 0) throw bad('unterminated string');
      continue;
    }
    if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (++used > budget) throw bad(`more structure than ${asked} entries can have`);
      if (++depth === 3) itemStart = i;
      continue;
    }
    if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      if (depth === 3 && i - itemStart + 1 > maxItemBytes) throw bad(`an entry of over ${maxItemBytes} bytes`);
      depth--;
      continue;
    }
    if (c === COMMA && ++used > budget) throw bad(`more structure than ${asked} entries can have`);
  }
}

/** Index of the quote that closes the string opening at `open`, or −1. Jumps between quotes with indexOf. */
function stringEnd(body: Uint8Array, open: number): number {
  let from = open + 1;
  for (;;) {
    const q = body.indexOf(QUOTE, from);
    if (q < 0) return -1;
    let slashes = 0;
    for (let j = q - 1; j > open && body[j] === BACKSLASH; j--) slashes++;
    if (slashes % 2 === 0) return q;
    from = q + 1;
  }
}
