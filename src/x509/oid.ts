/**
 * OBJECT IDENTIFIER values (X.690 §8.19). The hot path never builds dotted strings for the OIDs it
 * knows: it compares the raw content bytes, turned into a one-byte-per-char "key" string, against
 * keys precomputed from the dotted form. Dotted strings are only built for OIDs that are shown.
 */
import { CertstreamError } from '../errors.js';

/** The raw content bytes of an OID as a Latin-1 string: a cheap, exact Map key. */
export function oidKey(buf: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(buf[i]);
  return s;
}

/** The content-bytes key of a dotted OID (the inverse of decoding), for building lookup tables. */
export function oidKeyOf(dotted: string): string {
  const arcs = dotted.split('.').map((a) => BigInt(a));
  if (arcs.length < 2) throw new RangeError(`OID ${dotted} has fewer than two arcs`);
  const values = [arcs[0] * 40n + arcs[1], ...arcs.slice(2)];
  let s = '';
  for (const v of values) {
    const bytes: number[] = [];
    let x = v;
    do {
      bytes.unshift(Number(x & 0x7fn));
      x >>= 7n;
    } while (x > 0n);
    for (let i = 0; i < bytes.length - 1; i++) bytes[i] |= 0x80;
    s += String.fromCharCode(...bytes);
  }
  return s;
}

/** Longest arc accepted, in content bytes (224 bits): real OIDs stay far below; longer ones would only cost time. */
const MAX_ARC_BYTES = 32;

/**
 * Dotted-decimal text of an OID's content bytes, e.g. "1.3.6.1.5.5.7.1.12". Arcs beyond 2^53 are exact
 * (BigInt).
 * @throws CertstreamError X509_ERR_BAD_DER when empty, when the last arc is unterminated, or when an arc
 *   is longer than 32 bytes.
 */
export function oidToDotted(buf: Uint8Array, start: number, end: number): string {
  if (end <= start) throw new CertstreamError('X509_ERR_BAD_DER', 'empty OBJECT IDENTIFIER');
  if (buf[end - 1] & 0x80) throw new CertstreamError('X509_ERR_BAD_DER', 'unterminated OBJECT IDENTIFIER arc');
  const parts: string[] = [];
  let first = true;
  let v = 0;
  let big: bigint | null = null;
  let arcBytes = 0;
  for (let i = start; i < end; i++) {
    const b = buf[i];
    if (++arcBytes > MAX_ARC_BYTES) throw new CertstreamError('X509_ERR_BAD_DER', 'OBJECT IDENTIFIER arc too long');
    if (big !== null) big = (big << 7n) | BigInt(b & 0x7f);
    else {
      v = v * 128 + (b & 0x7f);
      if (v > 0x1f_ffff_ffff_ffff / 128) big = BigInt(v);
    }
    if (b & 0x80) continue;
    if (first) {
      first = false;
      const value = big ?? BigInt(v);
      if (value < 40n) parts.push('0', value.toString());
      else if (value < 80n) parts.push('1', (value - 40n).toString());
      else parts.push('2', (value - 80n).toString());
    } else {
      parts.push(big !== null ? big.toString() : String(v));
    }
    v = 0;
    big = null;
    arcBytes = 0;
  }
  return parts.join('.');
}

const dottedCache = new Map<string, string>();

/** Dotted text of an OID key, memoized (policy and extension OIDs repeat across certificates). */
export function dottedOf(buf: Uint8Array, start: number, end: number): string {
  const key = oidKey(buf, start, end);
  let dotted = dottedCache.get(key);
  if (dotted === undefined) {
    dotted = oidToDotted(buf, start, end);
    if (dottedCache.size >= 4096) dottedCache.clear();
    dottedCache.set(key, dotted);
  }
  return dotted;
}
