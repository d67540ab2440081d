/**
 * The replay window: every published entry, once, numbered by a sequence number (seq) that orders the
 * whole stream, kept for a while so that durable and `since` clients can read what they missed. It sits
 * behind FanoutHub.publish (the sink publishes once); the hub serves durable clients from it.
 *
 * This is an interface: the local implementation keeps segment files in the state directory
 * (LocalReplayWindow); a NATS JetStream stream can implement the same contract without the hub knowing.
 */
import { recordKey, type StreamName, type WindowEntry } from './record-codec.js';

export type { StreamName, WindowEntry } from './record-codec.js';

/** WebSocket text frames back to back (structurally the hub's FrameBatch). */
export interface FramedBatch {
  /** The framed messages, contiguous. */
  readonly bytes: Buffer;
  /** `ends[i]` = offset just past frame i. */
  readonly ends: readonly number[];
  /** Each message's payload (views into `bytes`). */
  readonly payloads: readonly Buffer[];
}

/**
 * One stream's frames for the seqs `[first, next)`, framed for the socket. Normally one frame per seq
 * (`next === first + batch.ends.length`); fewer when the window had to leave some out (a damaged record,
 * a segment that vanished, a message that is not a record): the reader counts `next - first - frames`
 * as lost and continues at `next`. A batch with `next` not past the asked seq made no progress: the
 * reader asks again only if the window's start moved meanwhile (trimmed under it), and otherwise ends.
 */
export interface ReplayBatch {
  readonly first: number;
  /** The seq to read from next. */
  readonly next: number;
  readonly batch: FramedBatch;
  /** Each frame's entry (seq, log, cert_index), in order: only when the read asked for them (`withKeys`). */
  readonly keys?: readonly FrameKey[];
}

/** The identity of a window entry a frame belongs to (verified=1 readers judge each by its log's verified size). */
export interface FrameKey {
  readonly seq: number;
  readonly log: string;
  readonly index: number;
}

/** The entries of whole records (each at offset 0) at `seqs`: what a verified=1 reader judges. */
export function recordKeys(records: readonly Buffer[], seqs: (i: number) => number): FrameKey[] {
  return records.map((r, i) => {
    const { log, index } = recordKey(r, 0);
    return { seq: seqs(i), log, index };
  });
}

/** A batch of one frame per seq from `first` on. */
export function contiguousBatch(first: number, batch: FramedBatch): ReplayBatch {
  return { first, next: first + batch.ends.length, batch };
}

export interface ReplayWindow {
  /** Seq of the oldest entry still held (= nextSeq when empty). */
  readonly firstSeq: number;
  /** Seq the next appended entry gets. */
  readonly nextSeq: number;
  /** Bytes held (disk), for certstream_replay_window_bytes. */
  readonly bytes: number;
  /** `seen` (epoch seconds) of the oldest entry held, or undefined when empty. */
  readonly oldestSeen: number | undefined;

  /**
   * Appends entries in stream order and numbers them. An entry whose (log, index) the window already
   * holds — or that is not beyond the last index it holds for that log — is not appended (after a
   * kill -9 the ingest fetches again from the saved cursor) and is left out of the result.
   * @returns the appended entries (the caller publishes exactly these), the first of them at `seq`
   */
  append(entries: readonly WindowEntry[]): { seq: number; appended: WindowEntry[] };

  /**
   * Up to about `maxBytes` of one stream's frames from `fromSeq` on (at least one frame when any is
   * held). Recent entries come from memory synchronously, older ones from disk (a promise).
   * `fromSeq` below firstSeq reads from firstSeq (the batch's `first` says where it starts).
   * `withKeys`: the batch also says each frame's entry (`keys`).
   */
  read(stream: StreamName, fromSeq: number, maxBytes: number, withKeys?: boolean): ReplayBatch | Promise<ReplayBatch>;

  /**
   * Seq of the first entry whose `seen` is at or after `since` (epoch seconds); nextSeq when none. A
   * window that must ask elsewhere (JetStream) answers with a promise.
   */
  seqAtTime(since: number): number | Promise<number>;

  /** Makes every appended entry durable (fsync); called before the cursors are written. */
  sync(): Promise<void>;

  /** Syncs and releases files. */
  close(): Promise<void>;
}
