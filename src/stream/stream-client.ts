/**
 * One connected WebSocket client of the fan-out and its byte budget.
 *
 * The budget covers everything not yet handed to the kernel: `ws.bufferedAmount` (the socket's write
 * buffer plus ws's own queue) and the batch about to be written. A batch is written as the longest
 * prefix of whole frames that fits; the rest is dropped for this client and counted. Frames stay in
 * order and a client never receives a frame twice, so per-log `cert_index` order holds even across drops.
 *
 * Without compression the frames are written straight to the socket, pre-framed once per batch for all
 * clients (the same bytes ws would produce, without a per-client copy and header). ws writes its own
 * frames (pong, ping, close) synchronously and whole, so the two never interleave inside a frame.
 */
import type { Socket } from 'node:net';
import { WebSocket } from 'ws';
import type { StreamName } from './stream-paths.js';
import type { FrameBatch } from './ws-frame.js';

/**
 * Why a client went away: the label of certstream_client_disconnects_total. `protocol`: the client
 * broke the WebSocket protocol or a limit of ours (an invalid frame, a message over --max-payload, a
 * ping flood); `error`: its socket failed (reset, EPIPE).
 */
export const DISCONNECT_REASONS = ['client', 'slow', 'ping_timeout', 'error', 'protocol', 'shutdown', 'takeover'] as const;
export type DisconnectReason = (typeof DISCONNECT_REASONS)[number];

export class StreamClient {
  /** Epoch ms since which the client has been over its budget (a batch did not fit), or undefined. */
  overSince: number | undefined;
  /** Answered the last ping (or sent anything) since it was sent. */
  alive = true;
  /** Set when the server decided to close it; the reason counted when it is gone. */
  closeReason: DisconnectReason | undefined;
  /** Frames dropped for this client since it connected. */
  dropped = 0;
  /** Frames handed to the socket since it connected. */
  sent = 0;
  /** Pongs to the client's pings not yet written (a client that pings without reading piles them up). */
  pendingPongs = 0;
  /** Epoch ms of the connection. */
  readonly connectedAt: number;

  /**
   * @param budgetBytes the byte budget (bufferedAmount + batch) above which frames are dropped
   */
  constructor(
    readonly ws: WebSocket,
    private readonly socket: Socket,
    readonly stream: StreamName,
    readonly remote: string,
    private readonly budgetBytes: number,
    now: number,
  ) {
    this.connectedAt = now;
  }

  /** Bytes accepted but not yet written to the kernel. */
  get buffered(): number {
    return this.ws.bufferedAmount;
  }

  /** Bytes it holds in memory, for --clients-memory-bytes (the same: its queue is all it holds). */
  get queued(): number {
    return this.ws.bufferedAmount;
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN && this.closeReason === undefined && !this.socket.destroyed;
  }

  /**
   * Writes the longest prefix of `batch` that keeps the client within its budget.
   * @returns the number of frames dropped (0 when everything fitted)
   */
  send(batch: FrameBatch, now: number): number {
    const count = batch.ends.length;
    if (count === 0 || !this.open) return 0;
    const room = this.budgetBytes - this.ws.bufferedAmount;
    let fit: number;
    if (this.ws.extensions !== '' && this.ws.extensions !== undefined) {
      // A negotiated extension (permessage-deflate) must go through ws's sender, frame by frame.
      fit = 0;
      let used = 0;
      while (fit < count && used + batch.payloads[fit].length <= room) {
        used += batch.payloads[fit].length;
        this.ws.send(batch.payloads[fit], { binary: false });
        fit++;
      }
    } else {
      fit = fitting(batch.ends, room);
      if (fit === count) this.socket.write(batch.bytes);
      else if (fit > 0) this.socket.write(batch.bytes.subarray(0, batch.ends[fit - 1]));
    }
    this.sent += fit;
    const dropped = count - fit;
    if (dropped > 0) {
      this.dropped += dropped;
      if (this.overSince === undefined) this.overSince = now;
    } else {
      this.overSince = undefined;
    }
    return dropped;
  }

  /**
   * Between batches: a client that was over budget but has drained to below half of it would take
   * the next batch, so it no longer counts as over.
   */
  recheck(): void {
    if (this.overSince !== undefined && this.ws.bufferedAmount < this.budgetBytes / 2) this.overSince = undefined;
  }
}

/** How many whole frames (given their end offsets) fit in `room` bytes. */
export function fitting(ends: readonly number[], room: number): number {
  if (ends.length === 0 || room <= 0) return 0;
  if (ends[ends.length - 1] <= room) return ends.length;
  let lo = 0;
  let hi = ends.length - 1; // ends[hi] > room
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ends[mid] <= room) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
