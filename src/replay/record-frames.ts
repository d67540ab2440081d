/**
 * Window records → one stream's WebSocket frames, framed back to back in one buffer (the FrameBatch the
 * hub writes to sockets), copying each payload once straight from the record bytes.
 *
 * A replay frames well over 100,000 records a second, so this works on offsets: no arrays or Buffer
 * views per record (they were a large part of the replay's garbage); the per-frame payload views that
 * only clients with a negotiated extension need are made on first use.
 */
import { RECORD_HEADER_BYTES } from './record-codec.js';
import type { FramedBatch, StreamName } from './replay-window.js';

const NO_CUT = 0xffffffff;

/** Writes the header of an unmasked, final text frame of `length` payload bytes at `at`; returns its size. */
function writeHeader(out: Buffer, at: number, length: number): number {
  out[at] = 0x81;
  if (length < 126) {
    out[at + 1] = length;
    return 2;
  }
  if (length < 0x10000) {
    out[at + 1] = 126;
    out.writeUInt16BE(length, at + 2);
    return 4;
  }
  out[at + 1] = 127;
  out.writeUInt32BE(Math.floor(length / 0x100000000), at + 2);
  out.writeUInt32BE(length >>> 0, at + 6);
  return 10;
}

function headerLength(n: number): number {
  return n < 126 ? 2 : n < 0x10000 ? 4 : 10;
}

/**
 * Appends to `ranges` the [start, end) byte ranges of `record` (offsets into it) that make the payload of
 * `stream`'s frame (record-codec.ts layout: one range for full and domains, up to three for lite);
 * returns the payload's length.
 */
function payloadRanges(record: Buffer, stream: StreamName, ranges: number[]): number {
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

/** Frames `records` (whole records, in seq order) for `stream` (RFC 6455 §5.2, server side). */
export function frameRecords(records: readonly Buffer[], stream: StreamName): FramedBatch {
  const ranges: number[] = [];
  const rangeEnds: number[] = [];
  const lengths: number[] = [];
  let total = 0;
  for (const r of records) {
    const n = payloadRanges(r, stream, ranges);
    rangeEnds.push(ranges.length);
    lengths.push(n);
    total += n + headerLength(n);
  }
  const bytes = Buffer.allocUnsafe(total);
  const ends: number[] = [];
  let at = 0;
  let k = 0;
  for (let i = 0; i < records.length; i++) {
    at += writeHeader(bytes, at, lengths[i]);
    const r = records[i];
    for (; k < rangeEnds[i]; k += 2) at += r.copy(bytes, at, ranges[k], ranges[k + 1]);
    ends.push(at);
  }
  let payloads: Buffer[] | undefined;
  return {
    bytes,
    ends,
    get payloads(): Buffer[] {
      if (payloads === undefined) payloads = ends.map((end, i) => bytes.subarray(end - lengths[i], end));
      return payloads;
    },
  };
}
