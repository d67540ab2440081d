/**
 * Window records → one stream's WebSocket frames, framed back to back in one buffer (the FrameBatch the
 * hub writes to sockets), copying each payload once straight from the record bytes — a compact record's
 * payload is inflated straight into the batch (compact-record.ts).
 *
 * A replay frames well over 100,000 records a second, so this works on offsets: no arrays or Buffer
 * views per plain record (they were a large part of the replay's garbage; a compact record costs one
 * small layout object); the per-frame payload views that only clients with a negotiated extension need
 * are made on first use.
 */
import { textFrameHeaderLength, writeTextFrameHeader } from '../stream/ws-frame.js';
import { CertstreamError } from '../errors.js';
import { compactFrameLength, compactLayout, isCompact, writeCompactFrame, type CompactLayout } from './compact-record.js';
import { payloadRanges } from './record-codec.js';
import type { FramedBatch, StreamName } from './replay-window.js';

/** A chain element by id in the segment of record `i` (compact records). */
export type CertLookup = (i: number, id: number) => Buffer | undefined;

/**
 * Frames `records` (whole records, in seq order) for `stream` (RFC 6455 §5.2, server side).
 * @param certs the chain elements compact records name; the caller has checked that each one resolves
 *   (compactChain), so a compact record that does not frame is a bug, thrown as such
 */
export function frameRecords(records: readonly Buffer[], stream: StreamName, certs?: CertLookup): FramedBatch {
  const ranges: number[] = [];
  const rangeEnds: number[] = [];
  const lengths: number[] = [];
  /** The layouts of compact records, by record (plain records use `ranges`). */
  const compact = new Map<number, CompactLayout>();
  let total = 0;
  for (let i = 0; i < records.length; i++) {
    const r = records[i];
    let n: number;
    if (isCompact(r)) {
      const layout = compactLayout(r);
      n = layout === undefined ? -1 : compactFrameLength(layout, stream, (id) => certs?.(i, id));
      if (n < 0) throw unframable();
      compact.set(i, layout!);
    } else n = payloadRanges(r, stream, ranges);
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
    const layout = compact.get(i);
    // Inflated straight into the batch (compact-record.ts).
    if (layout !== undefined && !writeCompactFrame(r, layout, stream, (id) => certs?.(i, id), bytes, at)) throw unframable();
    if (layout !== undefined) at += lengths[i];
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

function unframable(): CertstreamError {
  return new CertstreamError('STATE_ERR_IO', 'a compact replay-window record does not frame (a certificate it names is missing, or its data does not inflate)');
}
