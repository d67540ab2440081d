/**
 * The replay window as a JetStream stream (the edge side of the scale-out mode), behind the same
 * ReplayWindow interface as the local segment files, so that the hub, durable subscriptions and
 * `since` work alike in both modes. A window seq is the stream's sequence number: the same on every
 * edge, which is what lets a durable client's saved position mean the same thing on any of them.
 *
 * The tail (stream-tail.ts): an ordered consumer from the stream's end hands each run of new messages to `onEntries`
 * (the hub's publish), and the hub's `append` of those same entries numbers them with the seqs the tail
 * staged — so entries enter the hub in stream order, once. Reads of recent seqs come from memory (the
 * newest `cacheBytes`), older ones from the stream through a short-lived ordered consumer.
 *
 * A stream that starts over (lost with a wiped NATS store and created again at seq 1) would put seqs
 * below the ones this edge delivered: the window notices (a new creation time, or the tail meeting a
 * seq below the one it expected), counts and logs the seqs it had not delivered yet, and re-reads the
 * new stream from its first seq. Window seqs stay increasing across such a reset: a seq of the new
 * stream is its stream seq plus the last seq of the old one (`offset`), so clients, positions and the
 * hub never see a seq go back. A stream re-created continuing the old seqs (what an ingest node does
 * when it re-creates it, stream-guard.ts) needs no offset: its first seq is past what was delivered.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type Consumer, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import { CertstreamError, describeError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { RateLimitedLog } from '../log/rate-limited.js';
import { recordKey } from '../replay/record-codec.js';
import { frameRecords } from '../replay/record-frames.js';
import { contiguousBatch, recordKeys, type ReplayBatch, type ReplayWindow, type StreamName, type WindowEntry } from '../replay/replay-window.js';
import type { StreamFrames } from '../stream/fanout-hub.js';
import type { NatsMetrics } from './nats-metrics.js';
import { CertResolver, type Resolved } from './cert-resolver.js';
import { decodeStreamMessage, entryOfRecord } from './stream-message.js';
import { StreamTail, type TailHandler } from './stream-tail.js';

/** Stream readers kept positioned for the next read of a replaying client (one per replaying client). */
const MAX_READERS = 64;

export interface JetStreamWindowOptions {
  nc: NatsConnection;
  stream: string;
  metrics: NatsMetrics;
  logger: Logger;
  /** Receives each run of new stream entries, in stream order (the hub's publish). */
  onEntries: (frames: StreamFrames[]) => void;
  /**
   * Consumer pacing (the hub's roomForIngest): the tail reads on only when this is undefined or has
   * resolved, so a burst (a catch-up after NATS was away) reaches plain clients at the pace they read
   * rather than past their buffers. Durable clients read the stream at their own pace anyway.
   */
  room?: () => Promise<void> | undefined;
  /** Subscribes to reconnections (NatsLink.onReconnect): the tail then resubscribes at once. */
  onReconnect?: (listener: () => void) => () => void;
  /** Newest records kept in memory, bytes (default 8 MiB). */
  cacheBytes?: number;
  /** Chain certificates kept in memory, bytes (default 16 MiB). */
  certCacheBytes?: number;
  /** Stream state refresh period, ms (default 2000). */
  refreshMs?: number;
}

/** The `/healthz` view of an edge's stream. */
export interface StreamHealth {
  first_seq: number;
  last_seq: number;
  delivered_seq: number;
  consumer_lag: number;
}

/** The parts of a stream's state the window reads. */
interface StreamState {
  first_seq: number;
  last_seq: number;
  bytes: number;
  first_ts: string;
  last_ts: string;
  messages: number;
}

interface Staged {
  seq: number;
  record: Buffer;
  /** The entry's frames when the record was rebuilt from them (else decoded from the record when handed on). */
  entry: StreamFrames | undefined;
}

export class JetStreamWindow implements ReplayWindow {
  firstSeq: number;
  nextSeq: number;
  bytes = 0;
  oldestSeen: number | undefined;
  /** Publish time (epoch s) of the stream's last message as last read. */
  private newestPublished: number | undefined;
  /** The stream's last sequence as last seen (info refresh or the tail). */
  private lastSeq: number;
  private readonly js: JetStreamClient;
  private readonly cache: Buffer[] = [];
  private cacheHead = 0;
  private cacheFirst: number;
  private cachedBytes = 0;
  private readonly cacheMax: number;
  private staged: Staged[] = [];
  /** Ordered consumers that ended a read, by the seq they deliver next. */
  private readonly readers = new Map<number, Consumer>();
  private flushScheduled = false;
  private closed = false;
  private readonly tail: StreamTail;
  private readonly resolver: CertResolver;
  private readonly refresh: NodeJS.Timeout;
  private readonly errorLog: RateLimitedLog;
  /** Window seq = stream seq + offset (0 until the stream starts over under this edge). */
  private offset = 0;
  /**
   * The stream's creation time as last read: another one means it was re-created. Undefined after a
   * reset the tail noticed (the new stream's is not known yet): the next read takes it as it is.
   */
  private created: string | undefined;
  /** Counts resets: a read of the stream from before one is numbered for the old stream. */
  private epoch = 0;
  /**
   * Per log, the highest index the tail handed on. A stream that was lost and re-created holds again
   * what the ingest resent (unacknowledged when NATS went away) or fetched again (no cursors left):
   * those are not handed on a second time, so a connection never sees a log's index go back.
   */
  private readonly lastIndex = new Map<string, number>();
  /** Window seqs the tail left out as repeats: replays leave them out too. */
  private readonly repeats = new Set<number>();

  private constructor(
    private readonly options: JetStreamWindowOptions,
    private readonly jsm: JetStreamManager,
    state: StreamState,
    created: string,
  ) {
    this.js = jetstream(options.nc);
    this.cacheMax = options.cacheBytes ?? 8 * 1024 * 1024;
    this.errorLog = new RateLimitedLog(options.logger);
    this.lastSeq = state.last_seq;
    this.nextSeq = state.last_seq + 1;
    this.cacheFirst = this.nextSeq;
    this.firstSeq = this.nextSeq;
    this.created = created;
    this.noteState(state);
    this.resolver = new CertResolver({ jsm, stream: options.stream, metrics: options.metrics, logger: options.logger, cacheBytes: options.certCacheBytes });
    this.tail = new StreamTail({
      js: this.js,
      stream: options.stream,
      from: this.nextSeq,
      handler: this.tailHandler(),
      logger: options.logger,
      room: options.room,
      onReconnect: options.onReconnect,
    });
    this.refresh = setInterval(() => void this.refreshState(), options.refreshMs ?? 2000);
    this.refresh.unref();
  }

  /**
   * Reads the stream's state and starts the tail at its end (an edge serves live from there; durable
   * and `since` clients read what is before).
   * @throws CertstreamError NATS_ERR_STREAM when the stream cannot be read
   */
  static async open(options: JetStreamWindowOptions): Promise<JetStreamWindow> {
    try {
      const jsm = await jetstreamManager(options.nc, { timeout: 10_000 });
      const info = await jsm.streams.info(options.stream);
      return new JetStreamWindow(options, jsm, info.state, info.created);
    } catch (err) {
      throw new CertstreamError('NATS_ERR_STREAM', `cannot read JetStream stream ${options.stream}: ${describeError(err)}`, { cause: err });
    }
  }

  /** Seq, last seq and lag, for /healthz. */
  health(): StreamHealth {
    const delivered = this.nextSeq - 1;
    return { first_seq: this.firstSeq, last_seq: this.lastSeq, delivered_seq: delivered, consumer_lag: Math.max(0, this.lastSeq - delivered) };
  }

  /** Takes the entries the tail handed to the hub (the same ones, in order) and numbers them. */
  append(entries: readonly WindowEntry[]): { seq: number; appended: WindowEntry[] } {
    const run = this.staged.splice(0, entries.length);
    // A misuse guard, not a per-entry check: the run's ends must be the entries' ends (the tail handed
    // them on a moment ago; decoding every record's key again would cost each entry once more).
    const last = run.length - 1;
    if (run.length !== entries.length || (last >= 0 && (recordKey(run[0].record, 0).index !== entries[0].index || recordKey(run[last].record, 0).index !== entries[last].index))) {
      throw new CertstreamError('NATS_ERR_STREAM', 'JetStreamWindow.append: only the entries its tail handed on can be appended');
    }
    if (run.length === 0) return { seq: this.nextSeq, appended: [] };
    const seq = run[0].seq;
    if (seq > this.nextSeq) {
      // The tail skipped seqs it could not get (trimmed): the cache restarts there.
      this.dropCache();
      this.cacheFirst = seq;
    }
    for (const s of run) this.cacheRecord(s.record);
    this.nextSeq = run[run.length - 1].seq + 1;
    this.lastSeq = Math.max(this.lastSeq, this.nextSeq - 1);
    this.options.metrics.deliveredSeq.set(this.nextSeq - 1);
    this.options.metrics.consumerLag.set(Math.max(0, this.lastSeq - (this.nextSeq - 1)));
    return { seq, appended: [...entries] };
  }

  read(stream: StreamName, fromSeq: number, maxBytes: number, withKeys = false): ReplayBatch | Promise<ReplayBatch> {
    const from = Math.max(fromSeq, this.firstSeq);
    if (from >= this.cacheFirst) {
      const records: Buffer[] = [];
      let bytes = 0;
      for (let seq = from; seq < this.nextSeq && (records.length === 0 || bytes < maxBytes); seq++) {
        const r = this.cache[this.cacheHead + seq - this.cacheFirst];
        records.push(r);
        bytes += r.length;
      }
      const batch = contiguousBatch(from, frameRecords(records, stream));
      return withKeys ? { ...batch, keys: recordKeys(records, (i) => from + i) } : batch;
    }
    return this.readStream(stream, from, maxBytes, withKeys);
  }

  /**
   * The first seq published at or after `since`. The stream's own timestamps are publish times, never
   * earlier than an entry's `seen`, so no entry seen at or after `since` is before the answer (an entry
   * seen a moment earlier but published after `since` may be included).
   */
  seqAtTime(since: number): number | Promise<number> {
    if (this.cacheHead < this.cache.length && recordKey(this.cache[this.cacheHead], 0).seen <= since) {
      for (let i = this.cacheHead; i < this.cache.length; i++) {
        if (recordKey(this.cache[i], 0).seen >= since) return this.cacheFirst + i - this.cacheHead;
      }
      return this.nextSeq;
    }
    // At or before the oldest message (since=0 and the like): its start, without asking the stream.
    if (this.oldestSeen !== undefined && since <= this.oldestSeen) return this.firstSeq;
    return this.seqAtTimeFromStream(since);
  }

  /** JetStream acknowledged every entry before the tail saw it: nothing to sync. */
  async sync(): Promise<void> {}

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.refresh);
    this.resolver.close();
    await this.tail.close();
  }

  private noteState(state: StreamState): void {
    this.bytes = state.bytes;
    this.lastSeq = Math.max(this.lastSeq, state.last_seq + this.offset);
    // An empty stream reports first_seq = last_seq + 1.
    this.firstSeq = Math.min(Math.max(state.first_seq, 1) + this.offset, this.nextSeq);
    if (this.repeats.size > 0) for (const seq of this.repeats) if (seq < this.firstSeq) this.repeats.delete(seq);
    this.oldestSeen = state.messages > 0 ? Date.parse(state.first_ts) / 1000 : undefined;
    this.newestPublished = state.messages > 0 ? Date.parse(state.last_ts) / 1000 : undefined;
    this.options.metrics.streamLastSeq.set(this.lastSeq);
    this.options.metrics.consumerLag.set(Math.max(0, this.lastSeq - (this.nextSeq - 1)));
  }

  private async refreshState(): Promise<void> {
    let info;
    try {
      info = await this.jsm.streams.info(this.options.stream);
    } catch {
      // NATS away, or the stream missing (the guard reports it): the next refresh tries again.
      return;
    }
    if (this.closed) return;
    // A re-created stream still empty may be about to be moved on to the old seqs (stream-setup.ts
    // recreateStream creates, then purges up to its first seq): decided once it holds something.
    if (this.created === undefined) this.created = info.created;
    else if (info.created !== this.created && info.state.messages > 0) {
      this.created = info.created;
      // Re-created. Continuing the old seqs past what this edge delivered: the tail goes on (what it
      // had not read yet is gone, and counted as a gap when the new seqs arrive). Else it starts over.
      if (info.state.first_seq + this.offset <= this.nextSeq - 1) this.reset(`the stream was re-created (now seqs ${info.state.first_seq}-${info.state.last_seq})`);
    }
    this.noteState(info.state);
  }

  /**
   * The stream started over below what this edge delivered: counts and logs the seqs it had not
   * delivered (they are gone), and re-reads the stream from its first seq, numbered on from the old
   * stream's last seq.
   */
  private reset(reason: string): void {
    this.flushStaged();
    const undelivered = Math.max(0, this.lastSeq - this.nextSeq + 1);
    this.options.metrics.streamResets.inc();
    if (undelivered > 0) this.options.metrics.tailGaps.inc(undelivered);
    this.options.logger.error('jetstream stream reset: re-reading it from its first sequence', {
      stream: this.options.stream,
      reason,
      undelivered,
      ...(undelivered > 0 ? { undelivered_from: this.nextSeq, undelivered_to: this.lastSeq } : {}),
      seq_offset: this.lastSeq,
    });
    this.offset = this.lastSeq;
    this.nextSeq = this.lastSeq + 1;
    this.firstSeq = this.nextSeq;
    this.dropCache();
    this.cacheFirst = this.nextSeq;
    this.readers.clear();
    this.options.metrics.deliveredSeq.set(this.nextSeq - 1);
    this.epoch++;
    this.tail.restartAt(1);
  }

  private cacheRecord(record: Buffer): void {
    this.cache.push(record);
    this.cachedBytes += record.length;
    while (this.cachedBytes > this.cacheMax && this.cache.length - this.cacheHead > 1) {
      this.cachedBytes -= this.cache[this.cacheHead].length;
      this.cacheHead++;
      this.cacheFirst++;
    }
    if (this.cacheHead > 4096 && this.cacheHead * 2 > this.cache.length) {
      this.cache.splice(0, this.cacheHead);
      this.cacheHead = 0;
    }
  }

  private dropCache(): void {
    this.cache.length = 0;
    this.cacheHead = 0;
    this.cachedBytes = 0;
  }

  /** The tail's handler: entries staged in stream order, gaps counted, a stream that went back reset. */
  private tailHandler(): TailHandler {
    return {
      message: (m, missed) => {
        if (missed > 0) {
          this.options.metrics.tailGaps.inc(missed);
          this.options.logger.warn('stream seqs missed by this edge (trimmed, or lost with the stream, before it read them)', { from: m.seq - missed + this.offset, to: m.seq - 1 + this.offset });
          this.flushStaged();
        }
        return this.stage(m);
      },
      wentBack: (seq, expected) => {
        this.reset(`the tail received seq ${seq} where it expected ${expected}`);
        // The seqs are numbered for the stream that has this seq: the next state read belongs to it.
        this.created = undefined;
      },
      flush: () => this.flushStaged(),
    };
  }

  /** Stages one message of the tail; a promise while its chain certificates are fetched (the tail waits). */
  private stage(m: JsMsg): void | Promise<void> {
    const message = decodeStreamMessage(m.data);
    if (message === undefined) {
      // Not an entry this server reads (another publisher on the subject, another format): counted as a gap.
      this.skip(m, 'tail', 'stream message is not an entry; skipped');
      return;
    }
    const resolved = this.resolver.resolve(message);
    if (!(resolved instanceof Promise)) return this.stageResolved(m, resolved);
    const epoch = this.epoch;
    return resolved.then((r) => {
      // The stream started over while the certificates were fetched: this message belongs to the old one.
      if (epoch === this.epoch) this.stageResolved(m, r);
    });
  }

  /** Counts a message of the tail that is lost to this edge's clients (a gap) and hands on what was staged before it. */
  private skip(m: JsMsg, path: 'tail' | 'unresolved', message: string): void {
    this.options.metrics.tailGaps.inc();
    this.options.metrics.skippedMessages.inc({ path });
    this.errorLog.log('error', `skip-${path}`, message, { seq: m.seq + this.offset, bytes: m.data.byteLength });
    this.flushStaged();
  }

  private stageResolved(m: JsMsg, resolved: Resolved): void {
    if ('unresolved' in resolved) {
      this.skip(m, 'unresolved', `stream entry skipped: ${resolved.unresolved}`);
      return;
    }
    const record = resolved.record;
    const key = recordKey(record, 0);
    const last = this.lastIndex.get(key.log);
    if (last !== undefined && key.index <= last) {
      this.options.metrics.skippedMessages.inc({ path: 'repeat' });
      this.repeats.add(m.seq + this.offset);
      this.errorLog.log('warn', 'repeat', 'stream holds an entry this edge handed on already (published again after the stream was lost); skipped', { seq: m.seq + this.offset, log: key.log, index: key.index, last_index: last });
      this.flushStaged();
      return;
    }
    this.lastIndex.set(key.log, key.index);
    this.staged.push({ seq: m.seq + this.offset, record, entry: resolved.entry });
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flushStaged());
    }
  }

  /** Hands the staged entries on, one contiguous run at a time (the hub appends each). */
  private flushStaged(): void {
    this.flushScheduled = false;
    while (this.staged.length > 0) {
      let n = 1;
      while (n < this.staged.length && this.staged[n].seq === this.staged[n - 1].seq + 1) n++;
      const frames: StreamFrames[] = [];
      for (let i = 0; i < n; i++) frames.push(this.staged[i].entry ?? framesOf(this.staged[i].record));
      const before = this.staged.length;
      this.options.onEntries(frames);
      // The hub appends them synchronously; if it did not (closed), do not hand them on again.
      if (this.staged.length === before) this.staged.splice(0, n);
    }
  }

  private async readStream(stream: StreamName, from: number, maxBytes: number, withKeys: boolean): Promise<ReplayBatch> {
    const reused = this.readers.get(from);
    if (reused === undefined) return this.readStreamWith(undefined, stream, from, maxBytes, withKeys);
    this.readers.delete(from);
    // A kept reader may have expired on the server meanwhile: then read once more with a fresh one.
    return this.readStreamWith(reused, stream, from, maxBytes, withKeys).catch(() => this.readStreamWith(undefined, stream, from, maxBytes, withKeys));
  }

  private async readStreamWith(kept: Consumer | undefined, stream: StreamName, from: number, maxBytes: number, withKeys: boolean): Promise<ReplayBatch> {
    const upTo = Math.min(this.cacheFirst, this.nextSeq);
    const records: Buffer[] = [];
    /** Each record's window seq (the stream's may have gaps). */
    const seqs: number[] = [];
    const offset = this.offset;
    const epoch = this.epoch;
    /** The seq after the last message taken (entry or not). */
    let next = from;
    let taken = 0;
    try {
      // A reader that ended exactly here goes on (a replay reads chunk after chunk); else a new one.
      const consumer = kept ?? await this.js.consumers.get(this.options.stream, { deliver_policy: 'by_start_sequence', opt_start_seq: Math.max(1, from - offset) });
      // A count, not bytes: a byte-limited fetch waits out `expires` when fewer bytes exist. The count is
      // estimated from the records held in memory and never asks for more than exist before the cache.
      const average = this.cache.length > this.cacheHead ? this.cachedBytes / (this.cache.length - this.cacheHead) : 8192;
      const count = Math.max(1, Math.min(upTo - from, Math.ceil(maxBytes / average)));
      const messages = await consumer.fetch({ max_messages: count, expires: 2000 });
      for await (const m of messages) {
        const seq = m.seq + offset;
        taken++;
        if (seq < next) continue;
        // Past a gap, at or beyond where the tail's part begins: everything up to there is gone, the rest
        // is read from the cache (the consumer stands past it: not kept).
        if (seq >= upTo) {
          next = upTo;
          taken = -1;
          break;
        }
        // Seqs between `next` and this one are gone (trimmed, deleted): the reader counts them as lost.
        next = seq + 1;
        if (this.repeats.has(seq)) continue;
        const message = decodeStreamMessage(m.data);
        const resolved = message === undefined ? undefined : await this.resolver.resolve(message);
        if (resolved !== undefined && 'record' in resolved) {
          records.push(resolved.record);
          seqs.push(seq);
          continue;
        }
        // Not an entry, or its chain cannot be had: skipped, so that a replay goes past it instead of failing on it every time.
        this.options.metrics.skippedMessages.inc({ path: resolved === undefined ? 'replay' : 'unresolved' });
        this.errorLog.log('error', 'bad-record-replay', `a replay skipped a stream message: ${resolved === undefined ? 'not an entry' : resolved.unresolved}`, { seq, bytes: m.data.byteLength });
      }
      // Every fetched message taken: the consumer stands at the next seq and can serve the next read.
      if (taken === count && epoch === this.epoch) {
        this.readers.set(next, consumer);
        for (const key of this.readers.keys()) {
          if (this.readers.size <= MAX_READERS) break;
          this.readers.delete(key);
        }
      }
    } catch (err) {
      throw new CertstreamError('NATS_ERR_UNAVAILABLE', `cannot read seq ${from} from stream ${this.options.stream}: ${describeError(err)}`, { cause: err });
    }
    if (epoch !== this.epoch) {
      // The stream started over during the read: what was asked for is gone; the reader goes on at the new start.
      return { first: from, next: Math.max(from, this.firstSeq), batch: frameRecords([], stream), keys: withKeys ? [] : undefined };
    }
    if (taken === 0) {
      // Trimmed meanwhile, or nothing between from and the cache: continue from the cache.
      return from < this.cacheFirst && this.cacheFirst < this.nextSeq ? this.read(stream, this.cacheFirst, maxBytes, withKeys) : { ...contiguousBatch(from, frameRecords([], stream)), keys: withKeys ? [] : undefined };
    }
    return { first: from, next, batch: frameRecords(records, stream), keys: withKeys ? recordKeys(records, (i) => seqs[i]) : undefined };
  }

  private async seqAtTimeFromStream(since: number): Promise<number> {
    try {
      const consumer = await this.js.consumers.get(this.options.stream, { deliver_policy: 'by_start_time', opt_start_time: new Date(since * 1000).toISOString() });
      const m = await consumer.next({ expires: 2000 });
      if (m !== null) return Math.min(m.seq + this.offset, this.nextSeq);
      // Nothing within the wait: right when nothing was published since then; otherwise the stream was
      // slow to answer, and starting live would skip what the client asked for.
      if (this.newestPublished === undefined || since > this.newestPublished) return this.nextSeq;
      throw new CertstreamError('NATS_ERR_UNAVAILABLE', 'no answer from the stream in time');
    } catch (err) {
      throw new CertstreamError('NATS_ERR_UNAVAILABLE', `cannot find the stream position of since=${since}: ${describeError(err)}`, { cause: err });
    }
  }
}

/** The frames of a window record (one per stream variant), as the hub's publish takes them. */
export function framesOf(record: Buffer): StreamFrames {
  return entryOfRecord(record);
}
