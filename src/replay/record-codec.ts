/**
 * One replay-window record: an entry stored once, in the form that makes replay cheap (pure, no I/O).
 *
 *   u32 bodyLength | u32 crc32(body) | body
 *   body = f64 seen | f64 index | u16 logLength | log | u32 fullLength | full
 *          | u32 cut1Start | u32 cut1End | u32 cut2Start | u32 cut2End | u32 domainsLength | domains
 *
 * The lite frame is the full frame with two byte ranges cut out (the chain and the leaf's `as_der`), so
 * lite costs no bytes on disk; when a lite frame is not such a cut of its full frame (it always is for
 * the Renderer's output), cut1Start is NO_CUT and the lite bytes follow as `u32 liteLength | lite`.
 * The CRC lets the window tell a torn tail (kill -9 during a write) from a whole record.
 */
import { crc32 } from 'node:zlib';
import type { FrameParts } from '../render/renderer.js';

/**
 * The three streams (the same names as stream/stream-paths.ts; repeated here so that the window does
 * not depend on the hub that uses it).
 */
export type StreamName = 'lite' | 'full' | 'domains';

/** Bytes before a record's body: length and CRC. */
export const RECORD_HEADER_BYTES = 8;
/** Smallest body of either kind (a compact one: prefix, dictionary, counts, offsets, deflate's end). */
const MIN_BODY_BYTES = 8 + 8 + 2 + 1 + 2 + 2 + 16 + 2;
/** Largest body accepted when reading (a corrupt length must not make the reader allocate gigabytes). */
export const MAX_RECORD_BYTES = 64 * 1024 * 1024;
const NO_CUT = 0xffffffff;
/**
 * The length word's low 31 bits are the body's length; the top bit marks a compact record
 * (compact-record.ts), whose body starts with the same seen, index and log.
 */
const LENGTH_MASK = 0x7fffffff;

/** What the window stores per entry. */
export interface WindowEntry {
  /** The log's URL (`data.source.url`). */
  readonly log: string;
  /** `cert_index`. */
  readonly index: number;
  /** `data.seen`, epoch seconds. */
  readonly seen: number;
  readonly lite: string;
  readonly full: string;
  readonly domains: string;
  /**
   * The renderer's pieces of these frames (every entry the ingest renders has them): the window then
   * stores the entry compactly (compact-record.ts), without looking through its frames; without them,
   * plainly.
   */
  readonly parts?: FrameParts;
}

/** The byte ranges of `full` whose removal yields `lite`, or undefined when there are none such (≤ 2 ranges). */
export function liteCuts(full: Buffer, lite: Buffer): [number, number, number, number] | undefined {
  const max = Math.min(full.length, lite.length);
  let p = 0;
  while (p < max && full[p] === lite[p]) p++;
  let s = 0;
  while (s < max - p && full[full.length - 1 - s] === lite[lite.length - 1 - s]) s++;
  const middle = lite.subarray(p, lite.length - s);
  const fullMiddle = full.subarray(p, full.length - s);
  const at = middle.length === 0 ? fullMiddle.length : fullMiddle.indexOf(middle);
  if (at < 0) return undefined;
  const cuts: [number, number, number, number] = [p, p + at, p + at + middle.length, full.length - s];
  return cuts;
}

/** Bytes `encodeRecordInto` may need for `entry` (the exact size when lite is not a cut of full). */
export function recordBound(entry: WindowEntry): number {
  return RECORD_HEADER_BYTES + 8 + 8 + 2 + Buffer.byteLength(entry.log) + 4 + Buffer.byteLength(entry.full) + 16
    + 4 + Buffer.byteLength(entry.lite) + 4 + Buffer.byteLength(entry.domains);
}

/**
 * Encodes one entry as a whole record (header included) at `out[start]`, which must have
 * `recordBound(entry)` bytes of room; returns the record's length. The strings are encoded straight into
 * `out` (lite provisionally where it would go uncut, then compared in place): no per-entry Buffers, which
 * at 2,000 entries/s were tens of megabytes a second of garbage waiting for the GC (resident memory).
 */
export function encodeRecordInto(entry: WindowEntry, out: Buffer, start: number): number {
  let at = start + RECORD_HEADER_BYTES;
  at = out.writeDoubleLE(entry.seen, at);
  at = out.writeDoubleLE(entry.index, at);
  const logLength = out.write(entry.log, at + 2, 'utf8');
  at = out.writeUInt16LE(logLength, at);
  at += logLength;
  const fullLength = out.write(entry.full, at + 4, 'utf8');
  at = out.writeUInt32LE(fullLength, at);
  const full = out.subarray(at, at + fullLength);
  at += fullLength;
  const cutsAt = at;
  at += 16;
  const liteLength = out.write(entry.lite, at + 4, 'utf8');
  const lite = out.subarray(at + 4, at + 4 + liteLength);
  const cuts = liteCuts(full, lite);
  if (cuts !== undefined && cutsRebuild(full, cuts, lite)) {
    const [a, b, c, d] = cuts;
    out.writeUInt32LE(a, cutsAt);
    out.writeUInt32LE(b, cutsAt + 4);
    out.writeUInt32LE(c, cutsAt + 8);
    out.writeUInt32LE(d, cutsAt + 12);
  } else {
    out.writeUInt32LE(NO_CUT, cutsAt);
    out.fill(0, cutsAt + 4, cutsAt + 16);
    at = out.writeUInt32LE(liteLength, at);
    at += liteLength;
  }
  const domainsLength = out.write(entry.domains, at + 4, 'utf8');
  at = out.writeUInt32LE(domainsLength, at);
  at += domainsLength;
  const bodyLength = at - start - RECORD_HEADER_BYTES;
  out.writeUInt32LE(bodyLength, start);
  out.writeUInt32LE(crc32(out.subarray(start + RECORD_HEADER_BYTES, at)), start + 4);
  return at - start;
}

/** Encodes one entry as a whole record (header included), in a Buffer of its own. */
export function encodeRecord(entry: WindowEntry): Buffer {
  const out = Buffer.allocUnsafe(recordBound(entry));
  return out.subarray(0, encodeRecordInto(entry, out, 0));
}

/** Whether removing the cuts from `full` gives exactly `lite` (compared in place, nothing copied). */
function cutsRebuild(full: Buffer, [a, b, c, d]: readonly number[], lite: Buffer): boolean {
  const n1 = a;
  const n2 = c - b;
  const n3 = full.length - d;
  return n1 + n2 + n3 === lite.length
    && full.compare(lite, 0, n1, 0, n1) === 0
    && full.compare(lite, n1, n1 + n2, b, c) === 0
    && full.compare(lite, n1 + n2, lite.length, d, full.length) === 0;
}

/** Outcome of looking at the bytes at some offset: a whole record, too few bytes, or garbage. */
export type RecordProbe = { kind: 'record'; length: number } | { kind: 'partial' } | { kind: 'corrupt' };

/**
 * Checks whether `buf` at `offset` starts with a whole record.
 * @param verify check the CRC (done for the tail segment on open, where a torn write may sit)
 */
export function probeRecord(buf: Buffer, offset: number, verify: boolean): RecordProbe {
  if (buf.length - offset < RECORD_HEADER_BYTES) return { kind: 'partial' };
  const bodyLength = buf.readUInt32LE(offset) & LENGTH_MASK;
  if (bodyLength < MIN_BODY_BYTES || bodyLength > MAX_RECORD_BYTES) return { kind: 'corrupt' };
  const length = RECORD_HEADER_BYTES + bodyLength;
  if (buf.length - offset < length) return { kind: 'partial' };
  if (verify && crc32(buf.subarray(offset + RECORD_HEADER_BYTES, offset + length)) !== buf.readUInt32LE(offset + 4)) {
    return { kind: 'corrupt' };
  }
  return { kind: 'record', length };
}

/**
 * The offset of the first whole, CRC-checked record at or after `from` in `buf`, or -1 when none: how a
 * reader resynchronises after damaged bytes. Text (most of a record) never passes the length check, so
 * the CRC is computed only at the rare offsets whose four bytes look like a plausible length.
 */
export function findRecord(buf: Buffer, from: number): number {
  for (let at = from; at + RECORD_HEADER_BYTES <= buf.length; at++) {
    if (probeRecord(buf, at, true).kind === 'record') return at;
  }
  return -1;
}

/** The fields of a whole record needed for indexing (no frame bytes copied). */
export interface RecordKey {
  readonly seen: number;
  readonly index: number;
  readonly log: string;
}

/** Reads seen, index and log of the record starting at `offset` (which probeRecord accepted). */
export function recordKey(buf: Buffer, offset: number): RecordKey {
  const body = offset + RECORD_HEADER_BYTES;
  const logLength = buf.readUInt16LE(body + 16);
  return {
    seen: buf.readDoubleLE(body),
    index: buf.readDoubleLE(body + 8),
    log: buf.toString('utf8', body + 18, body + 18 + logLength),
  };
}

/**
 * Appends to `ranges` the [start, end) byte ranges of `record` (offsets into it, a whole record from its
 * header on) that make the payload of `stream`'s frame: one range for full and domains, up to three for
 * lite; returns the payload's length. Works on offsets (no views per record): a replay frames well over
 * 100,000 records a second through this.
 */
export function payloadRanges(record: Buffer, stream: StreamName, ranges: number[]): number {
  let at = RECORD_HEADER_BYTES + 16;
  at += 2 + record.readUInt16LE(at);
  const fullLength = record.readUInt32LE(at);
  const full = at + 4;
  at = full + fullLength;
  if (stream === 'full') {
    ranges.push(full, full + fullLength);
    return fullLength;
  }
  const a = record.readUInt32LE(at);
  let liteAt = -1;
  let liteLength = 0;
  at += 16;
  if (a === NO_CUT) {
    liteLength = record.readUInt32LE(at);
    liteAt = at + 4;
    at = liteAt + liteLength;
  }
  if (stream === 'lite') {
    if (liteAt >= 0) {
      ranges.push(liteAt, liteAt + liteLength);
      return liteLength;
    }
    const b = record.readUInt32LE(at - 12);
    const c = record.readUInt32LE(at - 8);
    const d = record.readUInt32LE(at - 4);
    ranges.push(full, full + a, full + b, full + c, full + d, full + fullLength);
    return a + (c - b) + (fullLength - d);
  }
  const domainsLength = record.readUInt32LE(at);
  ranges.push(at + 4, at + 4 + domainsLength);
  return domainsLength;
}

/** The payload of one stream's frame for a whole record, as views into it (empty parts left out). */
export function payloadParts(record: Buffer, stream: StreamName): Buffer[] {
  const ranges: number[] = [];
  payloadRanges(record, stream, ranges);
  const parts: Buffer[] = [];
  for (let k = 0; k < ranges.length; k += 2) if (ranges[k + 1] > ranges[k]) parts.push(record.subarray(ranges[k], ranges[k + 1]));
  return parts;
}
