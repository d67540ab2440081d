/**
 * A client served from the replay window (`?id=NAME` or `?since=`): it pulls frames at its own pace —
 * never dropped for being slow, never skipping — from `nextSeq` on. Its position is confirmed by
 * ping/pong: the pong to a ping proves it read every frame written before that ping, and only the pong
 * carrying that ping's payload is such an answer.
 *
 * Memory: it keeps at most about `queueBytes` (1 MiB) queued, read from the window as its socket drains;
 * nothing is read ahead of that (the kernel's socket buffer keeps the link busy while the next read runs).
 */
import type { Socket } from 'node:net';
import { WebSocket } from 'ws';
import type { FilterSet } from './filter-sets.js';
import type { StreamName } from './stream-paths.js';
import type { DisconnectReason } from './stream-client.js';
import type { VerifiedReader } from './verified-reader.js';
import type { FrameBatch } from './ws-frame.js';

export class DurableClient {
  /** Seq of the next window entry to write. */
  nextSeq: number;
  /** Entries below this seq were published before the client connected (they count as replayed). */
  readonly replayEnd: number;
  /** Its start seq is still being looked up (`since` in a window that asks elsewhere): no pings yet. */
  starting = false;
  /** A pump (window read + write) is running. */
  pumping = false;
  /** Waiting for the socket to drain before pumping again. */
  waitingDrain = false;
  /** The seq written before the outstanding ping, or undefined when no ping is outstanding. */
  pingSeq: number | undefined;
  /** The outstanding ping's payload: only a pong carrying it confirms `pingSeq`. */
  pingPayload: Buffer | undefined;
  /** Pongs to the client's own pings not yet written (ping-guard.ts). */
  pendingPongs = 0;
  /** When the outstanding ping was sent, epoch ms, and the bytes the kernel had taken from us by then. */
  pingSentAt = 0;
  pingFlushed = 0;
  /** Set when the server decided to close it; the reason counted when it is gone. */
  closeReason: DisconnectReason | undefined;
  /** Frames written since it connected. */
  sent = 0;

  constructor(
    readonly ws: WebSocket,
    readonly socket: Socket,
    readonly stream: StreamName,
    readonly remote: string,
    /** The durable name, or undefined for a `since`-only client (nothing is remembered for it). */
    readonly name: string | undefined,
    startSeq: number,
    liveSeq: number,
    /** Its `match=` rule set: it receives only the frames of entries passing it (its seqs still count every entry). */
    readonly filter?: FilterSet,
    /** `verified=1`: it receives an entry only once a verified signed head covers it (verified-reader.ts). */
    readonly verified?: VerifiedReader,
  ) {
    this.nextSeq = startSeq;
    this.replayEnd = liveSeq;
  }

  /** The seq a pong confirms: everything before it was written (or will never be, for a verified=1 client). */
  get position(): number {
    return this.verified === undefined ? this.nextSeq : this.verified.position(this.nextSeq);
  }

  /** Bytes accepted but not yet written to the kernel. */
  get buffered(): number {
    return this.ws.bufferedAmount;
  }

  /** Bytes it holds in memory, for --clients-memory-bytes (everything it holds is queued for its socket). */
  get queued(): number {
    return this.ws.bufferedAmount;
  }

  /** Bytes the kernel has taken from us so far (grows while the client reads). */
  get flushed(): number {
    return this.socket.bytesWritten - this.socket.writableLength;
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN && this.closeReason === undefined && !this.socket.destroyed;
  }

  /** Writes a whole batch (never a part: a durable client does not drop). */
  write(batch: FrameBatch): void {
    if (batch.ends.length === 0) return;
    if (this.ws.extensions !== '' && this.ws.extensions !== undefined) {
      // A negotiated extension (permessage-deflate) must go through ws's sender, frame by frame.
      for (const p of batch.payloads) this.ws.send(p, { binary: false });
    } else {
      this.socket.write(batch.bytes);
    }
    this.sent += batch.ends.length;
  }
}
