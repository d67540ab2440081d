/**
 * The JetStream message of one entry (pure): a version byte, the references to its chain certificates,
 * then the replay-window record (replay/record-codec.ts, with its CRC) of the entry without them.
 *
 *   version 2: u8 2 | u16 n | n × (u32 at | 32-byte SHA-256) | record (full frame without its chain elements)
 *   version 1: u8 1 | record
 *   bare (before the version byte): record
 *
 * A chain certificate repeats across thousands of entries: it is published once as its own message
 * (the element's text, on `<stream>.cert.<sha256 hex>`: stream-setup.ts) and each entry carries its
 * hash and where in the full frame it goes (chain-split.ts), so a message costs its leaf, not its chain.
 * The edge puts the elements back (cert-resolver.ts) and gets the record the ingest rendered, byte for
 * byte; an element whose text does not hash to its reference is never put in.
 *
 * The byte lets the format change without a flag day: an edge skips (and counts) what it cannot read
 * instead of framing garbage, and reads versions 1 and bare still (a stream written by an older ingest).
 * A bare record's first byte is its length's low byte, so it is told apart by the CRC, which a versioned
 * message read as bare, or a bare one read as versioned, fails.
 */
import { createHash } from 'node:crypto';
import { encodeRecord, payloadParts, probeRecord, recordKey, type WindowEntry } from '../replay/record-codec.js';
import { STREAM_NAMES, type StreamName } from '../stream/stream-paths.js';
import { fillChain, splitByParts, splitChain } from './chain-split.js';

/** The current message format. */
export const MESSAGE_VERSION = 2;
/** The format before chain references (still read). */
const VERSION_WHOLE = 1;
const HASH_BYTES = 32;
const REF_BYTES = 4 + HASH_BYTES;
/** The variant whose frame carries the chain (the others are cut from it or carry none). */
const CHAIN_VARIANT: StreamName = 'full';

/** A chain certificate an entry refers to: the element's text and its SHA-256 (hex). */
export interface ChainCert {
  readonly hash: string;
  readonly text: string;
}

/** An entry's message and the chain certificates it refers to (to be published before it). */
export interface EncodedMessage {
  readonly data: Buffer;
  readonly certs: readonly ChainCert[];
}

/** A decoded message: the record, and the chain elements to put back into its full frame (none for versions before 2). */
export interface DecodedMessage {
  /** A view into the message. */
  readonly record: Buffer;
  /** SHA-256 (hex) of each element, in order. */
  readonly hashes: readonly string[];
  /** Where each goes in the full frame without them (UTF-16 offsets). */
  readonly at: readonly number[];
}

/** The reference of a chain element: SHA-256 of its UTF-8 text, hex. */
export function certHash(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** The message for one entry. */
export function encodeStreamMessage(entry: WindowEntry): EncodedMessage {
  // The ingest's entries carry the renderer's parts: where the chain is, without a scan of the frame.
  let split = entry.parts === undefined ? splitChain(entry[CHAIN_VARIANT]) : splitByParts(entry[CHAIN_VARIANT], entry.parts);
  if (split.elements.length > 0xffff) split = { holed: entry[CHAIN_VARIANT], elements: [], at: [] };
  const record = encodeRecord({ ...entry, [CHAIN_VARIANT]: split.holed });
  const n = split.elements.length;
  const out = Buffer.allocUnsafe(3 + n * REF_BYTES + record.length);
  out[0] = MESSAGE_VERSION;
  out.writeUInt16LE(n, 1);
  const certs: ChainCert[] = [];
  for (let k = 0; k < n; k++) {
    const text = split.elements[k];
    const hash = certHash(text);
    const at = 3 + k * REF_BYTES;
    out.writeUInt32LE(split.at[k], at);
    out.write(hash, at + 4, 'hex');
    certs.push({ hash, text });
  }
  record.copy(out, 3 + n * REF_BYTES);
  return { data: out, certs };
}

/** Whether `buf` from `offset` to its end is exactly one whole record with a valid CRC. */
function wholeRecordAt(buf: Buffer, offset: number): boolean {
  const probe = probeRecord(buf, offset, true);
  return probe.kind === 'record' && offset + probe.length === buf.length;
}

const NO_REFS: readonly never[] = [];

/**
 * What a stream message holds (the record a view into `data`), or undefined when it is not an entry in
 * a format this server reads (another publisher on the subject, a newer version, damage).
 */
export function decodeStreamMessage(data: Uint8Array): DecodedMessage | undefined {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (buf.length >= 3 && buf[0] === MESSAGE_VERSION) {
    const n = buf.readUInt16LE(1);
    const start = 3 + n * REF_BYTES;
    if (start <= buf.length && wholeRecordAt(buf, start)) {
      const hashes: string[] = [];
      const at: number[] = [];
      for (let k = 0; k < n; k++) {
        at.push(buf.readUInt32LE(3 + k * REF_BYTES));
        hashes.push(buf.toString('hex', 7 + k * REF_BYTES, 3 + (k + 1) * REF_BYTES));
      }
      return { record: buf.subarray(start), hashes, at };
    }
  }
  if (buf.length > 0 && buf[0] === VERSION_WHOLE && wholeRecordAt(buf, 1)) return { record: buf.subarray(1), hashes: NO_REFS, at: NO_REFS };
  return wholeRecordAt(buf, 0) ? { record: buf, hashes: NO_REFS, at: NO_REFS } : undefined;
}

/** An entry's fields from a whole record (each variant's frame as text). */
export function entryOfRecord(record: Buffer): WindowEntry {
  const key = recordKey(record, 0);
  const frames = {} as Record<StreamName, string>;
  for (const name of STREAM_NAMES) {
    const parts = payloadParts(record, name);
    frames[name] = parts.length === 1 ? parts[0].toString('utf8') : Buffer.concat(parts).toString('utf8');
  }
  return { log: key.log, index: key.index, seen: key.seen, ...frames };
}

/**
 * The record of a decoded message with its chain elements put back (`elements` in the order of its
 * hashes, each already checked against its hash): the record the ingest rendered, byte for byte; and,
 * when it had to be rebuilt, the entry it was built from (its frames as text: no need to decode them
 * from the record again).
 */
export function recordWithChain(message: DecodedMessage, elements: readonly string[]): { record: Buffer; entry?: WindowEntry } {
  if (message.hashes.length === 0) return { record: message.record };
  const holed = entryOfRecord(message.record);
  const entry = { ...holed, [CHAIN_VARIANT]: fillChain(holed[CHAIN_VARIANT], elements, message.at) };
  return { record: encodeRecord(entry), entry };
}
