/**
 * Window records → one stream's WebSocket frames, framed back to back in one buffer (the FrameBatch the
 * hub writes to sockets), copying each payload once straight from the record bytes.
 */
import type { StreamName } from '../metrics/server-metrics.js';
import { textFrameHeader, type FrameBatch } from '../stream/ws-frame.js';
import { payloadParts } from './record-codec.js';

/** Frames `records` (whole records, in seq order) for `stream`. */
export function frameRecords(records: readonly Buffer[], stream: StreamName): FrameBatch {
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
    at += textFrameHeader(lengths[i]).copy(bytes, at);
    const start = at;
    for (const p of parts[i]) at += p.copy(bytes, at);
    payloads.push(bytes.subarray(start, at));
    ends.push(at);
  }
  return { bytes, ends, payloads };
}
