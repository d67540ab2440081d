/**
 * WebSocket frame encoding for the fan-out (RFC 6455 §5.2), server side: no mask, FIN set, one frame
 * per message. The hub frames every message once and writes the same bytes to every client socket;
 * ws would build the header and copy a string to a Buffer once per client and per message.
 */

/** Writes the header of an unmasked, final text frame of `length` payload bytes at `at`; returns its size. */
export function writeTextFrameHeader(out: Buffer, at: number, length: number): number {
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

/** Size of that header. */
export function textFrameHeaderLength(length: number): number {
  return length < 126 ? 2 : length < 0x10000 ? 4 : 10;
}

/** The header of an unmasked, final text frame carrying `length` payload bytes. */
export function textFrameHeader(length: number): Buffer {
  const h = Buffer.allocUnsafe(textFrameHeaderLength(length));
  writeTextFrameHeader(h, 0, length);
  return h;
}

/** Several text messages framed back to back, with the end offset of each frame. */
export interface FrameBatch {
  /** The framed messages, contiguous. */
  readonly bytes: Buffer;
  /** `ends[i]` = offset just past frame i; frames can be written as any prefix `bytes.subarray(0, ends[k])`. */
  readonly ends: readonly number[];
  /** The messages as UTF-8 payloads (for clients that need ws's own sender, e.g. with compression). */
  readonly payloads: readonly Buffer[];
}

/** Frames every message (JSON text) as one unmasked text frame; one allocation for the whole batch. */
export function frameBatch(messages: readonly string[]): FrameBatch {
  const payloads = messages.map((m) => Buffer.from(m, 'utf8'));
  let total = 0;
  for (const p of payloads) total += textFrameHeaderLength(p.length) + p.length;
  const bytes = Buffer.allocUnsafe(total);
  const ends: number[] = [];
  let at = 0;
  for (const p of payloads) {
    at += writeTextFrameHeader(bytes, at, p.length);
    p.copy(bytes, at);
    at += p.length;
    ends.push(at);
  }
  return { bytes, ends, payloads };
}

