/**
 * The chain certificates of a full frame, cut out and put back (pure). A full frame carries
 * `"chain":[{…},{…}]` — the rendered chain certificates, which repeat across thousands of entries; the
 * JetStream message of an entry carries the frame without them and a reference to each (stream-message.ts),
 * and the edge puts them back where they were: `fillChain(splitChain(full))` is `full`, byte for byte.
 *
 * The chain is the first `"chain":[` of the frame: the literal cannot occur inside a JSON string (its
 * second quote would be escaped there), and the renderer writes `chain` before `leaf_cert`.
 */

const CHAIN_KEY = '"chain":[';

/** A full frame without its chain elements, and where each goes back. */
export interface ChainSplit {
  /** The frame with every chain element cut out (`"chain":[,]`). */
  readonly holed: string;
  /** The chain elements (`{…}`), in order. */
  readonly elements: readonly string[];
  /** For each element, its offset in `holed` (UTF-16 units), non-decreasing. */
  readonly at: readonly number[];
}

/** The end (exclusive) of the JSON string whose opening quote is at `text[open]`, or -1 when it does not close. */
function stringEnd(text: string, open: number): number {
  for (let q = text.indexOf('"', open + 1); q >= 0; q = text.indexOf('"', q + 1)) {
    // Escaped when an odd number of backslashes precede it.
    let backslashes = 0;
    while (text.charCodeAt(q - 1 - backslashes) === 0x5c) backslashes++;
    if (backslashes % 2 === 0) return q + 1;
  }
  return -1;
}

/**
 * The end (exclusive) of the JSON object starting at `text[start]` (a `{`), or -1 when it does not close.
 * Strings (most of a rendered certificate: base64, names) are skipped with indexOf, not char by char.
 */
function objectEnd(text: string, start: number): number {
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      const end = stringEnd(text, i);
      if (end < 0) return -1;
      i = end - 1;
    } else if (c === 0x7b) depth++;
    else if (c === 0x7d && --depth === 0) return i + 1;
  }
  return -1;
}

/**
 * Cuts the chain elements out of a full frame. A frame without a chain, or one whose chain is not a
 * list of objects as the renderer writes it, comes back whole with no elements.
 */
export function splitChain(full: string): ChainSplit {
  const whole: ChainSplit = { holed: full, elements: [], at: [] };
  const key = full.indexOf(CHAIN_KEY);
  if (key < 0) return whole;
  const elements: string[] = [];
  const at: number[] = [];
  let holed = '';
  let copied = 0;
  let removed = 0;
  let i = key + CHAIN_KEY.length;
  for (;;) {
    if (full[i] !== '{') return whole; // an empty chain (nothing to cut), or not a list of objects
    const end = objectEnd(full, i);
    if (end < 0) return whole;
    holed += full.slice(copied, i);
    copied = end;
    at.push(i - removed);
    removed += end - i;
    elements.push(full.slice(i, end));
    if (full[end] === ']') break;
    if (full[end] !== ',') return whole;
    i = end + 1;
  }
  return { holed: holed + full.slice(copied), elements, at };
}

/**
 * The same split as `splitChain`, from the renderer's parts of the frame (renderer.ts, FrameParts: its
 * chain elements and where they start) instead of a scan of it; parts that do not describe `full`
 * exactly fall back to the scan.
 */
export function splitByParts(full: string, parts: { readonly chain: readonly string[]; readonly chainAt: number }): ChainSplit {
  const n = parts.chain.length;
  const open = parts.chainAt + CHAIN_KEY.length;
  if (n === 0 || !full.startsWith(CHAIN_KEY, parts.chainAt)) return splitChain(full);
  const at: number[] = [];
  let i = open;
  for (let k = 0; k < n; k++) {
    const el = parts.chain[k];
    if (k > 0 && full.charCodeAt(i++) !== 0x2c) return splitChain(full);
    if (!full.startsWith(el, i)) return splitChain(full);
    at.push(open + k);
    i += el.length;
  }
  if (full.charCodeAt(i) !== 0x5d) return splitChain(full);
  return { holed: full.slice(0, open) + ','.repeat(n - 1) + full.slice(i), elements: parts.chain, at };
}

/** The full frame back from a split: the elements put in at their offsets. */
export function fillChain(holed: string, elements: readonly string[], at: readonly number[]): string {
  let out = '';
  let copied = 0;
  for (let k = 0; k < elements.length; k++) {
    out += holed.slice(copied, at[k]) + elements[k];
    copied = at[k];
  }
  return out + holed.slice(copied);
}
