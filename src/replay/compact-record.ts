/**
 * Compact window records (pure, no I/O): an entry whose chain certificates are kept once per segment
 * (segment-certs.ts) and whose own bytes are deflated, so that the window holds 15 minutes of the
 * firehose in its default 2 GiB. A compact record is framed like every record (record-codec.ts:
 * u32 length | u32 crc32(body) | body) with COMPACT_FLAG set in the length word, and its body starts
 * like every body (seen, index, log), so that finding, checking and indexing records does not care:
 *
 *   body = f64 seen | f64 index | u16 logLength | log | u8 format
 *        | v defCount | defCount × (v certId | v length | chain element JSON)
 *        | v chainLength | chainLength × v certId
 *        | v chainAt | v asDerAt | v fingerprintAt | v liteLength | v derLength
 *        | 20-byte SHA-1 fingerprint (format 2 only) | deflateRaw(lite' ‖ leaf DER)
 *   (v: an unsigned LEB128 varint; lite' is lite without the leaf's fingerprint text: 20 random bytes
 *   written as 59 characters deflate badly, so format 2 keeps them as 20 bytes, and format 1 — the first
 *   release of compact records, still read — computes them again from the DER)
 *
 * A chain element is stored (defined) in the first record of its segment that needs it; later records
 * name it by its id. The frames are rebuilt byte-identically (renderer.ts, FrameParts):
 *   lite    = lite'[0, fingerprintAt) ‖ fingerprint ‖ lite'[fingerprintAt…)
 *   full    = lite[0, chainAt) ‖ "chain":[ el,… ], ‖ lite[chainAt, asDerAt) ‖ "as_der":"<base64 DER>", ‖ lite[asDerAt…)
 *   domains = {"data": ‖ lite[chainAt + 27, asDerAt - 1) ‖ ,"message_type":"dns_entries"}
 * Offsets are bytes. The deflated data holds lite' first, so a lite or domains frame inflates only the
 * bytes it needs; the DER is inflated for the full frame alone (and for a format 1 fingerprint).
 */
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { LEAF_DOMAINS_KEY, type FrameParts } from '../render/renderer.js';
import { FRAME_DICTIONARY } from './frame-dictionary.js';
import { RawZlib } from './raw-zlib.js';

/** Set in a record's length word for a compact record (record lengths stay far below 2^31). */
export const COMPACT_FLAG = 0x80000000;

/** The first compact format: the fingerprint is computed from the DER on read. Read, no longer written. */
const FORMAT_COMPUTED_FINGERPRINT = 1;
/** The format written: the fingerprint stored as 20 bytes. Both deflate with FRAME_DICTIONARY. */
const FORMAT_STORED_FINGERPRINT = 2;

const CHAIN_KEY = Buffer.from('"chain":[');
const DOMAINS_HEAD = Buffer.from('{"data":');
const DOMAINS_TAIL = Buffer.from(',"message_type":"dns_entries"}');
const CHAIN_CLOSE = Buffer.from('],');
const AS_DER_OPEN = Buffer.from('"as_der":"');
const AS_DER_CLOSE = Buffer.from('",');
const COMMA = 0x2c;
const COLON = 0x3a;
const HEX = Buffer.from('0123456789ABCDEF');
const FINGERPRINT_BYTES = 20;
/** `XX:` × 20 without the last colon. */
const FINGERPRINT_LENGTH = 59;
const LEAF_DOMAINS = Buffer.from(LEAF_DOMAINS_KEY);
const KEY_LENGTH = LEAF_DOMAINS.length;

/** Deflate window of compact records (8 KB): an entry is a few KB; inflate must use the same. */
const WINDOW_BITS = 13;

// An entry is a few KB: an 8 KB window and a small hash table compress it as well as the defaults, and
// allocate and clear far less. One engine each, reused (raw-zlib.ts).
const deflater = new RawZlib('deflate', { dictionary: FRAME_DICTIONARY, level: 9, memLevel: 4, windowBits: WINDOW_BITS });
const inflater = new RawZlib('inflate', { dictionary: FRAME_DICTIONARY, windowBits: WINDOW_BITS });
/** Deflate input (lite' ‖ DER) and output, and inflate output for full frames; grown, then reused. */
let plain: Buffer = Buffer.alloc(64 * 1024);
let packed: Buffer = Buffer.alloc(64 * 1024);

function room(buf: Buffer, bytes: number): Buffer {
  return buf.length >= bytes ? buf : Buffer.allocUnsafe(Math.max(bytes, 2 * buf.length));
}

/** A certificate to define in a record: its id in the segment and its element bytes. */
export interface CertDef {
  readonly id: number;
  readonly bytes: Buffer;
}

/**
 * An entry made ready for a compact record (`prepareCompact`): its offsets in lite's bytes, the
 * fingerprint, and the deflated lite' ‖ DER. Its buffers are reused: valid until the next prepare.
 */
export interface PreparedEntry {
  readonly chainAt: number;
  readonly asDerAt: number;
  readonly fingerprintAt: number;
  /** Bytes of lite without the fingerprint text. */
  readonly liteLength: number;
  readonly derLength: number;
  readonly fingerprint: Buffer;
  readonly packed: Buffer;
}

/** Writes a fingerprint's 20 bytes (`fp[from…]`) as `XX:…:XX` at `out[at]`. */
function writeFingerprint(fp: Buffer, from: number, out: Buffer, at: number): void {
  for (let k = 0; k < FINGERPRINT_BYTES; k++) {
    const b = fp[from + k];
    out[at++] = HEX[b >> 4];
    out[at++] = HEX[b & 15];
    if (k < FINGERPRINT_BYTES - 1) out[at++] = COLON;
  }
}

/**
 * Deflates an entry's own bytes for a compact record, from the renderer's parts of its frames (no
 * rescan of the frames); undefined when the entry cannot be stored compactly (it is then stored plainly).
 * @param lite the entry's lite frame; `parts` the renderer's pieces of it (UTF-16 offsets)
 */
export function prepareCompact(lite: string, parts: FrameParts): PreparedEntry | undefined {
  const der = parts.leafDer;
  plain = room(plain, 3 * lite.length + der.length);
  const liteBytes = plain.write(lite, 0, 'utf8');
  // Equal lengths: every character is ASCII, string offsets are byte offsets (the usual case).
  const byteAt = liteBytes === lite.length ? (x: number) => x : (x: number) => Buffer.byteLength(lite.slice(0, x));
  const chainAt = byteAt(parts.chainAt);
  const asDerAt = byteAt(parts.asDerAt);
  const fingerprintAt = byteAt(parts.fingerprintAt);
  if (!(chainAt + KEY_LENGTH < asDerAt && asDerAt <= fingerprintAt && fingerprintAt + FINGERPRINT_LENGTH <= liteBytes)
    || plain.compare(LEAF_DOMAINS, 0, KEY_LENGTH, chainAt, chainAt + KEY_LENGTH) !== 0) return undefined;
  const fingerprint = Buffer.from(plain.toString('latin1', fingerprintAt, fingerprintAt + FINGERPRINT_LENGTH).replaceAll(':', ''), 'hex');
  // (Parts that do not describe this lite frame fail these checks: the entry is then stored plainly.)
  // Stored as bytes only when they give back exactly the text (as sha1Fingerprint writes it).
  const check = Buffer.allocUnsafe(FINGERPRINT_LENGTH);
  if (fingerprint.length !== FINGERPRINT_BYTES) return undefined;
  writeFingerprint(fingerprint, 0, check, 0);
  if (plain.compare(check, 0, FINGERPRINT_LENGTH, fingerprintAt, fingerprintAt + FINGERPRINT_LENGTH) !== 0) return undefined;
  plain.copyWithin(fingerprintAt, fingerprintAt + FINGERPRINT_LENGTH, liteBytes);
  const liteLength = liteBytes - FINGERPRINT_LENGTH;
  plain.set(der, liteLength);
  const input = plain.subarray(0, liteLength + der.length);
  packed = room(packed, input.length + 1024);
  const n = deflater.run(input, packed, 0, packed.length);
  if (n < 0 || n === packed.length) return undefined;
  return { chainAt, asDerAt, fingerprintAt, liteLength, derLength: der.length, fingerprint, packed: packed.subarray(0, n) };
}

/**
 * Writes the whole compact record (header included) of a prepared entry at `out[at]`.
 * @returns its length, or -1 when it does not fit in `out`
 */
export function encodeCompact(
  seen: number, index: number, log: string, e: PreparedEntry, defs: readonly CertDef[], chain: readonly number[], out: Buffer, at: number,
): number {
  let defBytes = 0;
  for (const d of defs) defBytes += 10 + d.bytes.length;
  const logLength = Buffer.byteLength(log);
  const bound = 8 + 8 + 8 + 2 + logLength + 1 + 5 + defBytes + 5 * (1 + chain.length) + 5 * 5 + FINGERPRINT_BYTES + e.packed.length;
  if (bound > out.length - at) return -1;
  const start = at;
  at = out.writeDoubleLE(seen, at + 8);
  at = out.writeDoubleLE(index, at);
  at = out.writeUInt16LE(logLength, at);
  at += out.write(log, at, 'utf8');
  at = out.writeUInt8(FORMAT_STORED_FINGERPRINT, at);
  at = writeVarint(out, at, defs.length);
  for (const d of defs) {
    at = writeVarint(out, at, d.id);
    at = writeVarint(out, at, d.bytes.length);
    at += d.bytes.copy(out, at);
  }
  at = writeVarint(out, at, chain.length);
  for (const id of chain) at = writeVarint(out, at, id);
  at = writeVarint(out, at, e.chainAt);
  at = writeVarint(out, at, e.asDerAt);
  at = writeVarint(out, at, e.fingerprintAt);
  at = writeVarint(out, at, e.liteLength);
  at = writeVarint(out, at, e.derLength);
  at += e.fingerprint.copy(out, at);
  at += e.packed.copy(out, at);
  out.writeUInt32LE(((at - start - 8) | COMPACT_FLAG) >>> 0, start);
  out.writeUInt32LE(crc32(out.subarray(start + 8, at)), start + 4);
  return at - start;
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

/** Offset (in the record) of the format byte: right after the common prefix. */
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

/** A compact record's chain ids and the reader after them; undefined when its format is not one this server knows. */
function chainOf(record: Buffer): { format: number; ids: number[]; reader: VarintReader } | undefined {
  const at = afterPrefix(record);
  const format = record[at];
  if (format !== FORMAT_STORED_FINGERPRINT && format !== FORMAT_COMPUTED_FINGERPRINT) return undefined;
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
  return ids.some(Number.isNaN) || Number.isNaN(length) ? undefined : { format, ids, reader: r };
}

/** The chain certificate ids a whole, CRC-checked compact record names, or undefined when its format is unknown. */
export function compactChain(record: Buffer): number[] | undefined {
  return chainOf(record)?.ids;
}

/** Where the pieces of a compact record are (`compactLayout`): offsets of lite as in the format. */
export interface CompactLayout {
  readonly ids: readonly number[];
  readonly chainAt: number;
  readonly asDerAt: number;
  readonly fingerprintAt: number;
  readonly liteLength: number;
  readonly derLength: number;
  /** Offset in the record of the stored fingerprint (format 2), or -1 (format 1: computed from the DER). */
  readonly storedFingerprint: number;
  /** Offset in the record of the deflated data. */
  readonly dataAt: number;
}

/** The layout of a whole, CRC-checked compact record, or undefined when its format is unknown or its offsets are not consistent. */
export function compactLayout(record: Buffer): CompactLayout | undefined {
  const c = chainOf(record);
  if (c === undefined) return undefined;
  const r = c.reader;
  const chainAt = r.next();
  const asDerAt = r.next();
  const fingerprintAt = r.next();
  const liteLength = r.next();
  const derLength = r.next();
  const storedFingerprint = c.format === FORMAT_STORED_FINGERPRINT ? r.at : -1;
  const dataAt = storedFingerprint < 0 ? r.at : r.at + FINGERPRINT_BYTES;
  // (NaN fails every comparison.)
  if (!(chainAt + KEY_LENGTH < asDerAt && asDerAt <= fingerprintAt && fingerprintAt <= liteLength && derLength >= 0 && dataAt < record.length)) return undefined;
  return { ids: c.ids, chainAt, asDerAt, fingerprintAt, liteLength, derLength, storedFingerprint, dataAt };
}

/**
 * The length of one stream's frame payload for a compact record, or -1 when a chain certificate it
 * names is not known (its defining record was lost).
 * @param cert a chain element's bytes by id in the record's segment
 */
export function compactFrameLength(l: CompactLayout, stream: 'lite' | 'full' | 'domains', cert: (id: number) => Buffer | undefined): number {
  if (stream === 'domains') return DOMAINS_HEAD.length + (l.asDerAt - 1 - l.chainAt - KEY_LENGTH) + DOMAINS_TAIL.length;
  const lite = l.liteLength + FINGERPRINT_LENGTH;
  if (stream === 'lite') return lite;
  let chain = Math.max(0, l.ids.length - 1);
  for (const id of l.ids) {
    const el = cert(id);
    if (el === undefined) return -1;
    chain += el.length;
  }
  return lite + CHAIN_KEY.length + chain + CHAIN_CLOSE.length + AS_DER_OPEN.length + 4 * Math.ceil(l.derLength / 3) + AS_DER_CLOSE.length;
}

/**
 * Writes one stream's frame payload for a compact record at `out[at]`, `compactFrameLength` bytes;
 * false when its data does not inflate to what its layout says or a certificate is missing (the
 * record is then damaged: never framed wrong).
 */
export function writeCompactFrame(
  record: Buffer, l: CompactLayout, stream: 'lite' | 'full' | 'domains', cert: (id: number) => Buffer | undefined, out: Buffer, at: number,
): boolean {
  const data = record.subarray(l.dataAt);
  const { chainAt, asDerAt, fingerprintAt: fpAt, liteLength } = l;
  if (stream === 'lite' && l.storedFingerprint >= 0) {
    // Straight into the frame: lite' only (the DER after it is not inflated), then the fingerprint put in.
    if (inflater.run(data, out, at, liteLength) !== liteLength) return false;
    out.copyWithin(at + fpAt + FINGERPRINT_LENGTH, at + fpAt, at + liteLength);
    writeFingerprint(record, l.storedFingerprint, out, at + fpAt);
    return true;
  }
  if (stream === 'domains') {
    const end = asDerAt - 1;
    plain = room(plain, end);
    if (inflater.run(data, plain, 0, end) !== end) return false;
    at += DOMAINS_HEAD.copy(out, at);
    at += plain.copy(out, at, chainAt + KEY_LENGTH, end);
    DOMAINS_TAIL.copy(out, at);
    return true;
  }
  // The whole data (one byte of room more: exactly the recorded lengths, not more).
  const total = liteLength + l.derLength;
  plain = room(plain, total + 1);
  const raw = plain;
  if (inflater.run(data, raw, 0, total + 1) !== total) return false;
  const der = raw.subarray(liteLength, total);
  let fp = record;
  let fpFrom = l.storedFingerprint;
  if (fpFrom < 0) {
    fp = createHash('sha1').update(der).digest();
    fpFrom = 0;
  }
  if (stream === 'full') {
    at += raw.copy(out, at, 0, chainAt);
    at += CHAIN_KEY.copy(out, at);
    for (let k = 0; k < l.ids.length; k++) {
      const el = cert(l.ids[k]);
      if (el === undefined) return false;
      if (k > 0) out[at++] = COMMA;
      at += el.copy(out, at);
    }
    at += CHAIN_CLOSE.copy(out, at);
    at += raw.copy(out, at, chainAt, asDerAt);
    at += AS_DER_OPEN.copy(out, at);
    at += out.write(der.toString('base64'), at, 'latin1');
    at += AS_DER_CLOSE.copy(out, at);
    at += raw.copy(out, at, asDerAt, fpAt);
  } else at += raw.copy(out, at, 0, fpAt);
  writeFingerprint(fp, fpFrom, out, at);
  raw.copy(out, at + FINGERPRINT_LENGTH, fpAt, liteLength);
  return true;
}
