/**
 * The JetStream message of one entry (pure): a version byte, then the replay-window record
 * (replay/record-codec.ts, with its CRC).
 *
 *   u8 version (MESSAGE_VERSION) | record
 *
 * The byte lets the format change without a flag day: an edge skips (and counts) what it cannot read
 * instead of framing garbage. Messages written before the byte existed are a bare record; they are still
 * read (a bare record's first byte is its length's low byte, so it is told apart by the CRC, which a
 * versioned message read as bare, or a bare one read as versioned, fails).
 */
import { encodeRecord, probeRecord, type WindowEntry } from '../replay/record-codec.js';

/** The current message format. */
export const MESSAGE_VERSION = 1;

/** The message for one entry. */
export function encodeStreamMessage(entry: WindowEntry): Buffer {
  const record = encodeRecord(entry);
  const out = Buffer.allocUnsafe(1 + record.length);
  out[0] = MESSAGE_VERSION;
  record.copy(out, 1);
  return out;
}

/** Whether `buf` from `offset` to its end is exactly one whole record with a valid CRC. */
function wholeRecordAt(buf: Buffer, offset: number): boolean {
  const probe = probeRecord(buf, offset, true);
  return probe.kind === 'record' && offset + probe.length === buf.length;
}

/**
 * The record a stream message holds (a view into `data`), or undefined when it is not an entry in a
 * format this server reads (another publisher on the subject, a newer version, damage).
 */
export function decodeStreamMessage(data: Uint8Array): Buffer | undefined {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (buf.length > 0 && buf[0] === MESSAGE_VERSION && wholeRecordAt(buf, 1)) return buf.subarray(1);
  return wholeRecordAt(buf, 0) ? buf : undefined;
}
