/**
 * A minimal DER TLV reader for the certificate hot path (X.690 §8.1). It works on offsets into one
 * Buffer and never copies: every value is a `[start, end)` range into the certificate's bytes.
 *
 * Only what X.509 needs is supported: low and high tag numbers, definite lengths up to 4 length
 * bytes. Indefinite lengths (BER), lengths running past their parent, and truncated headers throw
 * CertstreamError X509_ERR_BAD_DER, which the certificate parser maps to its own decisions.
 */
import { CertstreamError } from '../errors.js';

/** Universal tags used by X.509 (first identifier byte, constructed bit included). */
export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  NUMERIC_STRING: 0x12,
  PRINTABLE_STRING: 0x13,
  TELETEX_STRING: 0x14,
  VIDEOTEX_STRING: 0x15,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  GRAPHIC_STRING: 0x19,
  VISIBLE_STRING: 0x1a,
  GENERAL_STRING: 0x1b,
  UNIVERSAL_STRING: 0x1c,
  BMP_STRING: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** One decoded TLV header: the value is `buf[start, end)`, the next sibling starts at `end`. */
export interface Tlv {
  /** The first identifier byte (class, constructed bit and low tag number; 0x1f-masked for high tags). */
  readonly tag: number;
  /** Offset of the first identifier byte. */
  readonly offset: number;
  /** Offset of the first value byte. */
  readonly start: number;
  /** Offset just past the value (= start of the next sibling). */
  readonly end: number;
}

function bad(message: string): never {
  throw new CertstreamError('X509_ERR_BAD_DER', message);
}

/**
 * Reads the TLV header at `pos`, which must end (with its value) at or before `limit`.
 * @throws CertstreamError X509_ERR_BAD_DER on truncation, indefinite or over-long lengths.
 */
export function readTlv(buf: Uint8Array, pos: number, limit: number): Tlv {
  if (pos >= limit) bad(`TLV expected at ${pos}, but the enclosing value ends at ${limit}`);
  const offset = pos;
  const tag = buf[pos++];
  if ((tag & 0x1f) === 0x1f) {
    // High tag number form: skip the base-128 tag number bytes (we never match on these tags).
    let n = 0;
    while (true) {
      if (pos >= limit) bad(`truncated tag at ${offset}`);
      const b = buf[pos++];
      if (++n > 4) bad(`tag number too long at ${offset}`);
      if ((b & 0x80) === 0) break;
    }
  }
  if (pos >= limit) bad(`truncated length at ${offset}`);
  let len = buf[pos++];
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0) bad(`indefinite length at ${offset}`);
    if (n > 4) bad(`length of ${n} bytes at ${offset}`);
    if (pos + n > limit) bad(`truncated length at ${offset}`);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[pos++];
  }
  const end = pos + len;
  if (end > limit) bad(`value of ${len} bytes at ${offset} runs past its enclosing value (ends at ${limit})`);
  return { tag, offset, start: pos, end };
}

/** Reads a TLV and checks its tag. */
export function expectTlv(buf: Uint8Array, pos: number, limit: number, tag: number, what: string): Tlv {
  const t = readTlv(buf, pos, limit);
  if (t.tag !== tag) bad(`${what}: expected tag 0x${tag.toString(16)}, found 0x${t.tag.toString(16)} at ${pos}`);
  return t;
}

/** All direct children of a constructed value `[start, end)`, in order. */
export function children(buf: Uint8Array, start: number, end: number): Tlv[] {
  const out: Tlv[] = [];
  let pos = start;
  while (pos < end) {
    const t = readTlv(buf, pos, end);
    out.push(t);
    pos = t.end;
  }
  return out;
}

/** Reads a DER BOOLEAN value (any non-zero byte is true, as lenient decoders do). */
export function readBoolean(buf: Uint8Array, t: Tlv): boolean {
  if (t.end - t.start !== 1) bad(`BOOLEAN of ${t.end - t.start} bytes at ${t.offset}`);
  return buf[t.start] !== 0;
}

/** Reads a small non-negative INTEGER (≤ 6 value bytes) as a number. */
export function readSmallInt(buf: Uint8Array, t: Tlv): number {
  const n = t.end - t.start;
  if (n < 1 || n > 6) bad(`INTEGER of ${n} bytes at ${t.offset} where a small number was expected`);
  let v = 0;
  for (let i = t.start; i < t.end; i++) v = v * 256 + buf[i];
  return v;
}
