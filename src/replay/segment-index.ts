/**
 * The index of a sealed segment (`<firstSeq, 16 digits>.idx` next to its `.seg`): what opening the
 * window would otherwise learn by scanning the segment, so that a window opens in O(segments), not in
 * O(bytes). Written atomically when a segment is sealed (and after a scan found none usable); a missing,
 * damaged or stale one (the segment's size differs) only costs a scan, which writes it again.
 *
 *   "CSWI" | u32 version | f64 firstSeq | f64 segmentSize | u32 records | records × u32 length
 *   | u32 seenPoints | seenPoints × (f64 seq, f64 seen) | u32 damaged | damaged × f64 seq
 *   | u32 defs | defs × (u32 id, f64 offset) | u16 logs | logs × (u16 length, log, f64 highest index)
 *   | u32 damagedRecords | u32 crc32(everything before)
 *
 * Record lengths rather than offsets: a record's offset is the sum of the lengths before it (a damaged
 * hole that took several seqs shows as lengths of 0). Pure encoding here; the file I/O is at the end.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';

const MAGIC = 0x49575343; // "CSWI" little-endian
const VERSION = 1;

/** Everything `open` keeps per closed segment. */
export interface SegmentIndexData {
  firstSeq: number;
  /** The segment file's size when the index was written (a different size makes the index stale). */
  size: number;
  /** Adopted by the segment that loads the index (not copied). */
  offsets: number[];
  seenSeqs: readonly number[];
  seenValues: readonly number[];
  damaged: readonly number[];
  /** Certificate id → offset of its defining record. */
  defs: readonly (readonly [number, number])[];
  /** Highest index per log in the segment (the window's dedupe). */
  maxIndex: readonly (readonly [string, number])[];
  /** Damaged records the scan counted (counted again at each open, as a scan would). */
  damagedRecords: number;
}

/** `<seq>.idx`, the index of `<seq>.seg`. */
export function indexName(firstSeq: number): string {
  return `${String(firstSeq).padStart(16, '0')}.idx`;
}

export function encodeSegmentIndex(d: SegmentIndexData): Buffer {
  const logs = d.maxIndex.map(([log, index]) => [Buffer.from(log, 'utf8'), index] as const);
  const size =
    4 + 4 + 8 + 8 + 4 + 4 * d.offsets.length + 4 + 16 * d.seenSeqs.length + 4 + 8 * d.damaged.length + 4 + 12 * d.defs.length + 2 +
    logs.reduce((n, [log]) => n + 2 + log.length + 8, 0) + 4 + 4;
  const out = Buffer.alloc(size);
  let at = out.writeUInt32LE(MAGIC, 0);
  at = out.writeUInt32LE(VERSION, at);
  at = out.writeDoubleLE(d.firstSeq, at);
  at = out.writeDoubleLE(d.size, at);
  at = out.writeUInt32LE(d.offsets.length, at);
  for (let k = 0; k < d.offsets.length; k++) at = out.writeUInt32LE((k + 1 < d.offsets.length ? d.offsets[k + 1] : d.size) - d.offsets[k], at);
  at = out.writeUInt32LE(d.seenSeqs.length, at);
  for (let k = 0; k < d.seenSeqs.length; k++) {
    at = out.writeDoubleLE(d.seenSeqs[k], at);
    at = out.writeDoubleLE(d.seenValues[k], at);
  }
  at = out.writeUInt32LE(d.damaged.length, at);
  for (const seq of d.damaged) at = out.writeDoubleLE(seq, at);
  at = out.writeUInt32LE(d.defs.length, at);
  for (const [id, offset] of d.defs) {
    at = out.writeUInt32LE(id, at);
    at = out.writeDoubleLE(offset, at);
  }
  at = out.writeUInt16LE(logs.length, at);
  for (const [log, index] of logs) {
    at = out.writeUInt16LE(log.length, at);
    at += log.copy(out, at);
    at = out.writeDoubleLE(index, at);
  }
  at = out.writeUInt32LE(d.damagedRecords, at);
  out.writeUInt32LE(crc32(out.subarray(0, at)), at);
  return out;
}

/** The index in `buf`, or undefined when it is not a whole, CRC-checked index of this version. */
export function decodeSegmentIndex(buf: Buffer): SegmentIndexData | undefined {
  if (buf.length < 40 || buf.readUInt32LE(0) !== MAGIC || buf.readUInt32LE(4) !== VERSION) return undefined;
  if (crc32(buf.subarray(0, buf.length - 4)) !== buf.readUInt32LE(buf.length - 4)) return undefined;
  try {
    let at = 8;
    const f64 = () => {
      const v = buf.readDoubleLE(at);
      at += 8;
      return v;
    };
    const u32 = () => {
      const v = buf.readUInt32LE(at);
      at += 4;
      return v;
    };
    const firstSeq = f64();
    const size = f64();
    // The hot loop of an open (one pass per entry held): no closure, no bounds beyond the buffer's own.
    const records = u32();
    if (at + 4 * records > buf.length) return undefined;
    const offsets: number[] = new Array<number>(records);
    let offset = 0;
    for (let k = 0; k < records; k++, at += 4) {
      offsets[k] = offset;
      offset += buf.readUInt32LE(at);
    }
    if (offset !== size) return undefined;
    const seenSeqs: number[] = [];
    const seenValues: number[] = [];
    for (let n = u32(); n > 0; n--) {
      seenSeqs.push(f64());
      seenValues.push(f64());
    }
    const damaged: number[] = [];
    for (let n = u32(); n > 0; n--) damaged.push(f64());
    const defs: [number, number][] = [];
    for (let n = u32(); n > 0; n--) defs.push([u32(), f64()]);
    const maxIndex: [string, number][] = [];
    const logs = buf.readUInt16LE(at);
    at += 2;
    for (let n = logs; n > 0; n--) {
      const length = buf.readUInt16LE(at);
      const log = buf.toString('utf8', at + 2, at + 2 + length);
      at += 2 + length;
      maxIndex.push([log, f64()]);
    }
    const damagedRecords = u32();
    if (at !== buf.length - 4) return undefined;
    return { firstSeq, size, offsets, seenSeqs, seenValues, damaged, defs, maxIndex, damagedRecords };
  } catch {
    // A read past the end: a length inside that the CRC happened to accept (never in practice).
    return undefined;
  }
}

/** Reads the index at `path`; undefined when it is missing or not valid (a scan then rebuilds it). */
export function readSegmentIndex(path: string): SegmentIndexData | undefined {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch {
    return undefined;
  }
  return decodeSegmentIndex(buf);
}

/**
 * Writes an index so that a crash at any moment leaves the old file, the new one, or none — never a torn
 * one under the final name (the state/atomic-file.ts sequence, synchronous because sealing a segment is
 * part of an append): temp file, fsync, rename, fsync of the directory. A torn temp file is removed at
 * the next open.
 */
export function writeSegmentIndex(dir: string, data: SegmentIndexData): void {
  const path = join(dir, indexName(data.firstSeq));
  const tmp = `${path}.tmp`;
  const body = encodeSegmentIndex(data);
  try {
    const fd = openSync(tmp, 'w', 0o644);
    try {
      let done = 0;
      while (done < body.length) done += writeSync(fd, body, done, body.length - done);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    fsyncDirectory(dir);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** fsync of a directory: makes the names created in it (or it in its parent) survive a crash. */
export function fsyncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
