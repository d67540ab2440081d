/**
 * Window records → one stream's WebSocket frames, framed back to back in one buffer (the FrameBatch the
 * hub writes to sockets), copying each payload once straight from the record bytes.
 *
 * A replay frames well over 100,000 records a second, so this works on offsets: no arrays or Buffer
 * views per record (they were a large part of the replay's garbage); the per-frame payload views that
 * only clients with a negotiated extension need are made on first use.
 */
import { textFrameHeaderLength, writeTextFrameHeader } from '../stream/ws-frame.js';
import { payloadRanges } from './record-codec.js';
import type { FramedBatch, StreamName } from './replay-window.js';

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
    total += n + textFrameHeaderLength(n);
  }
  const bytes = Buffer.allocUnsafe(total);
  const ends: number[] = [];
  let at = 0;
  let k = 0;
  for (let i = 0; i < records.length; i++) {
    at += writeTextFrameHeader(bytes, at, lengths[i]);
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
