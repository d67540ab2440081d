/**
 * A client served from the replay window (`?id=NAME` or `?since=`): it pulls frames at its own pace —
 * never dropped for being slow, never skipping — from `nextSeq` on. Its position is confirmed by
 * ping/pong: the pong to a ping proves it read every frame written before that ping.
 */
import type { Socket } from 'node:net';
import { WebSocket } from 'ws';
import type { StreamName } from './stream-paths.js';
import type { DisconnectReason } from './stream-client.js';
import type { FrameBatch } from './ws-frame.js';
import type { ReplayBatch } from '../replay/replay-window.js';

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
  /** The window read from `nextSeq` started while the socket drained (taken by the next pump). */
  readAhead: ReplayBatch | Promise<ReplayBatch> | undefined;
  /** The seq written before the outstanding ping, or undefined when no ping is outstanding. */
  pingSeq: number | undefined;
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
  ) {
    this.nextSeq = startSeq;
    this.replayEnd = liveSeq;
  }

  /** Bytes accepted but not yet written to the kernel. */
  get buffered(): number {
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
