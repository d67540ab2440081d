/**
 * Compact window records (pure, no I/O): an entry whose chain certificates are kept once per segment
 * (segment-certs.ts) and whose own bytes are deflated, so that the window holds 15 minutes of the
 * firehose in its default 2 GiB. A compact record is framed like every record (record-codec.ts:
 * u32 length | u32 crc32(body) | body) with COMPACT_FLAG set in the length word, and its body starts
 * like every body (seen, index, log), so that finding, checking and indexing records does not care:
 *
 *   body = f64 seen | f64 index | u16 logLength | log | u8 dictionaryId
 *        | v defCount | defCount × (v certId | v length | chain element JSON)
 *        | v chainLength | chainLength × v certId
 *        | v chainAt | v asDerAt | v fingerprintAt | v liteLength | v derLength | deflateRaw(lite' ‖ leaf DER)
 *   (v: an unsigned LEB128 varint; lite' is lite without the leaf's SHA-1 fingerprint text, which is
 *   computed again from the DER on read: 20 random bytes written as 59 characters deflate badly)
 *
 * A chain element is stored (defined) in the first record of its segment that needs it; later records
 * name it by its id. The frames are rebuilt byte-identically (renderer.ts, FrameParts):
 *   lite    = lite'[0, fingerprintAt) ‖ fingerprint(DER) ‖ lite'[fingerprintAt…)
 *   full    = lite[0, chainAt) ‖ "chain":[ el,… ], ‖ lite[chainAt, asDerAt) ‖ "as_der":"<base64 DER>", ‖ lite[asDerAt…)
 *   domains = {"data": ‖ lite[chainAt + 27, asDerAt - 1) ‖ ,"message_type":"dns_entries"}
 * Offsets are bytes. An entry whose frames are not of that shape is stored as a plain record.
 */
import { crc32, deflateRawSync, inflateRawSync } from 'node:zlib';
import { sha1Fingerprint } from '../render/cert-json.js';
import { LEAF_DOMAINS_KEY } from '../render/renderer.js';
import { DICTIONARY_ID, FRAME_DICTIONARY } from './frame-dictionary.js';
import { cutsRebuild } from './record-codec.js';

/** Set in a record's length word for a compact record (record lengths stay far below 2^31). */
export const COMPACT_FLAG = 0x80000000;

const CHAIN_KEY = Buffer.from('"chain":[');
const CHAIN_END = Buffer.from('],' + LEAF_DOMAINS_KEY);
const LEAF_AS_DER = Buffer.from('],"as_der":"');
const NEXT_ELEMENT = Buffer.from('},{"as_der":"');
const ELEMENT_START = Buffer.from('{"as_der":"');
const DOMAINS_HEAD = Buffer.from('{"data":');
const DOMAINS_TAIL = Buffer.from(',"message_type":"dns_entries"}');
const CHAIN_CLOSE = Buffer.from('],');
const AS_DER_OPEN = Buffer.from('"as_der":"');
const AS_DER_CLOSE = Buffer.from('",');
const COMMA = Buffer.from(',');
const FINGERPRINT_KEY = Buffer.from(',"fingerprint":"');
/** `XX:` × 20 without the last colon. */
const FINGERPRINT_LENGTH = 59;
const KEY_LENGTH = LEAF_DOMAINS_KEY.length;
/** Base64 characters (from the end of a certificate's as_der, i.e. its signature) in an element's key. */
const KEY_TAIL = 44;

/**
 * Where a rendered entry's pieces are, in bytes: `elements` holds [start, end) of each chain element in
 * full, `keys` each element's key (its length and the end of its as_der; equal keys are then compared
 * byte for byte), `chainAt` and `asDerAt` are FrameParts' offsets in lite's bytes, `fingerprintAt` is
 * where the leaf's fingerprint text starts in lite, and `der` is the leaf's DER.
 */
export interface FrameShape {
  readonly elements: readonly number[];
  readonly keys: readonly string[];
  readonly chainAt: number;
  readonly asDerAt: number;
  readonly fingerprintAt: number;
  readonly der: Buffer;
}

/**
 * The shape of an entry's frames when they are the renderer's (full = lite + chain + leaf as_der, domains
 * = lite's all_domains), checked exactly; undefined otherwise (the entry is then stored plainly).
 */
export function frameShape(full: Buffer, lite: Buffer, domains: Buffer): FrameShape | undefined {
  // Inside JSON strings a quote is escaped, so these keys with their quotes are structure, not text.
  const a = full.indexOf(CHAIN_KEY);
  if (a < 0) return undefined;
  const chainEnd = full.indexOf(CHAIN_END, a);
  if (chainEnd < 0) return undefined;
  const b = chainEnd + 2;
  const leafAsDer = full.indexOf(LEAF_AS_DER, b);
  if (leafAsDer < 0) return undefined;
  const c = leafAsDer + 2;
  const d = full.indexOf(AS_DER_CLOSE, c + AS_DER_OPEN.length) + 2;
  if (d < 2 || !cutsRebuild(full, [a, b, c, d], lite)) return undefined;
  const chainAt = a;
  const asDerAt = c - (b - a);
  // domains = {"data": + lite's all_domains array + ,"message_type":"dns_entries"}
  const arrayStart = chainAt + KEY_LENGTH;
  const arrayLength = asDerAt - 1 - arrayStart;
  if (domains.length !== DOMAINS_HEAD.length + arrayLength + DOMAINS_TAIL.length
    || domains.compare(DOMAINS_HEAD, 0, DOMAINS_HEAD.length, 0, DOMAINS_HEAD.length) !== 0
    || domains.compare(lite, arrayStart, arrayStart + arrayLength, DOMAINS_HEAD.length, DOMAINS_HEAD.length + arrayLength) !== 0
    || domains.compare(DOMAINS_TAIL, 0, DOMAINS_TAIL.length, DOMAINS_HEAD.length + arrayLength) !== 0) return undefined;
  const b64 = full.toString('latin1', c + AS_DER_OPEN.length, d - 2);
  const der = Buffer.from(b64, 'base64');
  if (der.toString('base64') !== b64) return undefined;
  // The leaf's fingerprint: the first after its all_domains (the extensions before it are escaped text).
  const fpKey = lite.indexOf(FINGERPRINT_KEY, asDerAt);
  if (fpKey < 0) return undefined;
  const fingerprintAt = fpKey + FINGERPRINT_KEY.length;
  if (lite.toString('latin1', fingerprintAt, fingerprintAt + FINGERPRINT_LENGTH) !== sha1Fingerprint(der)) return undefined;
  const elements: number[] = [];
  const keys: string[] = [];
  const listEnd = chainEnd; // just after the last element's closing brace
  let at = a + CHAIN_KEY.length;
  while (at < listEnd) {
    if (full.compare(ELEMENT_START, 0, ELEMENT_START.length, at, at + ELEMENT_START.length) !== 0) return undefined;
    const next = full.indexOf(NEXT_ELEMENT, at);
    const end = next < 0 || next >= listEnd ? listEnd : next + 1;
    const quote = full.indexOf(0x22, at + ELEMENT_START.length);
    if (quote < 0 || quote >= end) return undefined;
    elements.push(at, end);
    keys.push((end - at) + full.toString('latin1', Math.max(at + ELEMENT_START.length, quote - KEY_TAIL), quote));
    at = end + 1;
  }
  return { elements, keys, chainAt, asDerAt, fingerprintAt, der };
}

/** A certificate to define in a record: its id in the segment and its element bytes. */
export interface CertDef {
  readonly id: number;
  readonly bytes: Buffer;
}

/** Deflate window of compact records (8 KB): an entry is a few KB; inflate must use the same. */
const WINDOW_BITS = 13;

/** The whole compact record (header included) for an entry of the given shape. */
export function encodeCompact(
  seen: number, index: number, log: string, lite: Buffer, shape: FrameShape, defs: readonly CertDef[], chain: readonly number[],
): Buffer {
  const fpEnd = shape.fingerprintAt + FINGERPRINT_LENGTH;
  const packed = deflateRawSync(
    Buffer.concat([lite.subarray(0, shape.fingerprintAt), lite.subarray(fpEnd), shape.der]),
    // An entry is a few KB: an 8 KB window and a small hash table compress it as well as the defaults,
    // and a per-record deflate allocates and clears far less (inflate reads it with its default window).
    { dictionary: FRAME_DICTIONARY, level: 9, memLevel: 4, windowBits: WINDOW_BITS },
  );
  let defBytes = 0;
  for (const d of defs) defBytes += 10 + d.bytes.length;
  const logLength = Buffer.byteLength(log);
  const bound = 8 + 8 + 8 + 2 + logLength + 1 + 5 + defBytes + 5 * (1 + chain.length) + 5 * 5 + packed.length;
  const out = Buffer.allocUnsafe(bound);
  let at = out.writeDoubleLE(seen, 8);
  at = out.writeDoubleLE(index, at);
  at = out.writeUInt16LE(logLength, at);
  at += out.write(log, at, 'utf8');
  at = out.writeUInt8(DICTIONARY_ID, at);
  at = writeVarint(out, at, defs.length);
  for (const d of defs) {
    at = writeVarint(out, at, d.id);
    at = writeVarint(out, at, d.bytes.length);
    at += d.bytes.copy(out, at);
  }
  at = writeVarint(out, at, chain.length);
  for (const id of chain) at = writeVarint(out, at, id);
  at = writeVarint(out, at, shape.chainAt);
  at = writeVarint(out, at, shape.asDerAt);
  at = writeVarint(out, at, shape.fingerprintAt);
  at = writeVarint(out, at, lite.length - FINGERPRINT_LENGTH);
  at = writeVarint(out, at, shape.der.length);
  at += packed.copy(out, at);
  out.writeUInt32LE(((at - 8) | COMPACT_FLAG) >>> 0, 0);
  out.writeUInt32LE(crc32(out.subarray(8, at)), 4);
  return out.subarray(0, at);
}

function writeVarint(out: Buffer, at: number, value: number): number {
  let v = value;
  while (v >= 0x80) {
    out[at++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 128);
  }
  out[at++] = v;
  return at;
}

/** Reads varints from a record, each bounds-checked (a damaged record must not read past its end). */
class VarintReader {
  constructor(private readonly buf: Buffer, public at: number) {}
  /** The next varint, or NaN past the end or for one over 2^35. */
  next(): number {
    let value = 0;
    let scale = 1;
    for (let k = 0; k < 5; k++) {
      if (this.at >= this.buf.length) return NaN;
      const b = this.buf[this.at++];
      value += (b & 0x7f) * scale;
      if (b < 0x80) return value;
      scale *= 128;
    }
    return NaN;
  }
}

/** Whether the whole record (header included) is a compact one. */
export function isCompact(record: Buffer, offset = 0): boolean {
  return (record.readUInt32LE(offset) & COMPACT_FLAG) !== 0;
}

/** Offset (in the record) of the dictionary id: right after the common prefix. */
function afterPrefix(record: Buffer): number {
  return 8 + 16 + 2 + record.readUInt16LE(8 + 16);
}

/** Whether the compact record at `offset` of `buf` defines any certificate (most do not: a cheap test for the scan). */
export function definesCerts(buf: Buffer, offset: number): boolean {
  const at = offset + 8 + 16 + 2 + buf.readUInt16LE(offset + 8 + 16) + 1;
  return at < buf.length && buf[at] !== 0;
}

/**
 * The certificates a compact record defines (id and [start, end) of the element in the record), or
 * undefined when its bytes do not parse (damage: the caller checks the CRC before trusting them).
 */
export function compactDefs(record: Buffer): { id: number; start: number; end: number }[] | undefined {
  const r = new VarintReader(record, afterPrefix(record) + 1);
  const count = r.next();
  if (Number.isNaN(count)) return undefined;
  const out: { id: number; start: number; end: number }[] = [];
  for (let k = 0; k < count; k++) {
    const id = r.next();
    const length = r.next();
    if (Number.isNaN(length) || r.at + length > record.length) return undefined;
    out.push({ id, start: r.at, end: r.at + length });
    r.at += length;
  }
  return out;
}

/** Where a compact record's chain ids start, and how many there are (undefined: not a dictionary this server knows). */
function chainOf(record: Buffer): { ids: number[]; reader: VarintReader } | undefined {
  const at = afterPrefix(record);
  if (record[at] !== DICTIONARY_ID) return undefined;
  const r = new VarintReader(record, at + 1);
  const defCount = r.next();
  for (let k = 0; k < defCount; k++) {
    r.next();
    const length = r.next();
    r.at += length;
  }
  const length = r.next();
  const ids: number[] = [];
  for (let k = 0; k < length; k++) ids.push(r.next());
  return ids.some(Number.isNaN) || Number.isNaN(length) ? undefined : { ids, reader: r };
}

/** The chain certificate ids a whole, CRC-checked compact record names, or undefined when its format is unknown. */
export function compactChain(record: Buffer): number[] | undefined {
  return chainOf(record)?.ids;
}

/**
 * The payload of one stream's frame for a whole, CRC-checked compact record, as pieces in order; undefined
 * when a chain certificate it names is not known (its defining record was lost) or its data does not
 * inflate: the record is then treated as damaged, never framed wrong.
 * @param cert a chain element's bytes by id in the record's segment
 */
export function compactPayload(record: Buffer, stream: 'lite' | 'full' | 'domains', cert: (id: number) => Buffer | undefined): Buffer[] | undefined {
  const c = chainOf(record);
  if (c === undefined) return undefined;
  const r = c.reader;
  const chainAt = r.next();
  const asDerAt = r.next();
  const fpAt = r.next();
  const liteLength = r.next();
  const derLength = r.next();
  let raw: Buffer;
  try {
    // The deflate's own 8 KB window (not the default 32 KB) and one output chunk of exactly the known
    // size (not 16 KB): a replay inflates every record, and each call allocates both.
    raw = inflateRawSync(record.subarray(r.at), { dictionary: FRAME_DICTIONARY, windowBits: WINDOW_BITS, chunkSize: Math.max(64, liteLength + derLength + 1) });
  } catch {
    return undefined;
  }
  if (raw.length !== liteLength + derLength || !(chainAt + KEY_LENGTH < asDerAt && asDerAt <= fpAt && fpAt <= liteLength)) return undefined;
  if (stream === 'domains') return [DOMAINS_HEAD, raw.subarray(chainAt + KEY_LENGTH, asDerAt - 1), DOMAINS_TAIL];
  const der = raw.subarray(liteLength);
  const fingerprint = Buffer.from(sha1Fingerprint(der), 'latin1');
  if (stream === 'lite') return [raw.subarray(0, fpAt), fingerprint, raw.subarray(fpAt, liteLength)];
  const pieces: Buffer[] = [raw.subarray(0, chainAt), CHAIN_KEY];
  for (let k = 0; k < c.ids.length; k++) {
    const el = cert(c.ids[k]);
    if (el === undefined) return undefined;
    if (k > 0) pieces.push(COMMA);
    pieces.push(el);
  }
  pieces.push(
    CHAIN_CLOSE, raw.subarray(chainAt, asDerAt), AS_DER_OPEN, Buffer.from(der.toString('base64'), 'latin1'), AS_DER_CLOSE,
    raw.subarray(asDerAt, fpAt), fingerprint, raw.subarray(fpAt, liteLength),
  );
  return pieces;
}
