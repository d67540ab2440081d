/**
 * WebSocket frame encoding for the fan-out (RFC 6455 §5.2), server side: no mask, FIN set, one frame
 * per message. The hub frames every message once and writes the same bytes to every client socket;
 * ws would build the header and copy a string to a Buffer once per client and per message.
 */

/** The header of an unmasked, final text frame carrying `length` payload bytes. */
export function textFrameHeader(length: number): Buffer {
  if (length < 126) return Buffer.from([0x81, length]);
  if (length < 0x10000) {
    const h = Buffer.allocUnsafe(4);
    h[0] = 0x81;
    h[1] = 126;
    h.writeUInt16BE(length, 2);
    return h;
  }
  const h = Buffer.allocUnsafe(10);
  h[0] = 0x81;
  h[1] = 127;
  h.writeUInt32BE(Math.floor(length / 0x100000000), 2);
  h.writeUInt32BE(length >>> 0, 6);
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
  for (const p of payloads) total += headerLength(p.length) + p.length;
  const bytes = Buffer.allocUnsafe(total);
  const ends: number[] = [];
  let at = 0;
  for (const p of payloads) {
    const header = textFrameHeader(p.length);
    header.copy(bytes, at);
    at += header.length;
    p.copy(bytes, at);
    at += p.length;
    ends.push(at);
  }
  return { bytes, ends, payloads };
}

function headerLength(length: number): number {
  return length < 126 ? 2 : length < 0x10000 ? 4 : 10;
}
