/**
 * Window records → one stream's WebSocket frames, framed back to back in one buffer (the FrameBatch the
 * hub writes to sockets), copying each payload once straight from the record bytes.
 */
import { payloadParts } from './record-codec.js';
import type { FramedBatch, StreamName } from './replay-window.js';

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

/** Frames `records` (whole records, in seq order) for `stream` (RFC 6455 §5.2, server side). */
export function frameRecords(records: readonly Buffer[], stream: StreamName): FramedBatch {
  const parts = records.map((r) => payloadParts(r, stream));
  let total = 0;
  const lengths = parts.map((ps) => {
    let n = 0;
    for (const p of ps) n += p.length;
    total += n + (n < 126 ? 2 : n < 0x10000 ? 4 : 10);
    return n;
  });
  const bytes = Buffer.allocUnsafe(total);
  const ends: number[] = [];
  const payloads: Buffer[] = [];
  let at = 0;
  for (let i = 0; i < parts.length; i++) {
    at += writeHeader(bytes, at, lengths[i]);
    const start = at;
    for (const p of parts[i]) at += p.copy(bytes, at);
    payloads.push(bytes.subarray(start, at));
    ends.push(at);
  }
  return { bytes, ends, payloads };
}
