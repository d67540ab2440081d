/**
 * The replay window as a JetStream stream (the edge side of the scale-out mode), behind the same
 * ReplayWindow interface as the local segment files, so that the hub, durable subscriptions and
 * `since` work alike in both modes. A window seq is the stream's sequence number: the same on every
 * edge, which is what lets a durable client's saved position mean the same thing on any of them.
 *
 * The tail: an ordered consumer from the stream's end hands each run of new messages to `onEntries`
 * (the hub's publish), and the hub's `append` of those same entries numbers them with the seqs the tail
 * staged — so entries enter the hub in stream order, once. Reads of recent seqs come from memory (the
 * newest `cacheBytes`), older ones from the stream through a short-lived ordered consumer.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type Consumer, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import { backoffDelay } from '../ct/backoff.js';
import { CertstreamError, describeError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { RateLimitedLog } from '../log/rate-limited.js';
import { payloadParts, probeRecord, recordKey } from '../replay/record-codec.js';
import { frameRecords } from '../replay/record-frames.js';
import { contiguousBatch, type ReplayBatch, type ReplayWindow, type StreamName, type WindowEntry } from '../replay/replay-window.js';
import type { StreamFrames } from '../stream/fanout-hub.js';
import type { NatsMetrics } from './nats-metrics.js';

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

interface Staged {
  seq: number;
  record: Buffer;
}

export class JetStreamWindow implements ReplayWindow {
  firstSeq: number;
  nextSeq: number;
  bytes = 0;
  oldestSeen: number | undefined;
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
  private readonly stop = new AbortController();
  private readonly tail: Promise<void>;
  private readonly refresh: NodeJS.Timeout;
  private readonly errorLog: RateLimitedLog;

  private constructor(
    private readonly options: JetStreamWindowOptions,
    private readonly jsm: JetStreamManager,
    state: { first_seq: number; last_seq: number; bytes: number; first_ts: string; messages: number },
  ) {
    this.js = jetstream(options.nc);
    this.cacheMax = options.cacheBytes ?? 8 * 1024 * 1024;
    this.errorLog = new RateLimitedLog(options.logger);
    this.lastSeq = state.last_seq;
    this.nextSeq = state.last_seq + 1;
    this.cacheFirst = this.nextSeq;
    this.firstSeq = this.nextSeq;
    this.noteState(state);
    this.tail = this.runTail();
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
      return new JetStreamWindow(options, jsm, info.state);
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
      throw new Error('JetStreamWindow.append: only the entries its tail handed on can be appended');
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

  read(stream: StreamName, fromSeq: number, maxBytes: number): ReplayBatch | Promise<ReplayBatch> {
    const from = Math.max(fromSeq, this.firstSeq);
    if (from >= this.cacheFirst) {
      const records: Buffer[] = [];
      let bytes = 0;
      for (let seq = from; seq < this.nextSeq && (records.length === 0 || bytes < maxBytes); seq++) {
        const r = this.cache[this.cacheHead + seq - this.cacheFirst];
        records.push(r);
        bytes += r.length;
      }
      return contiguousBatch(from, frameRecords(records, stream));
    }
    return this.readStream(stream, from, maxBytes);
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
    return this.seqAtTimeFromStream(since);
  }

  /** JetStream acknowledged every entry before the tail saw it: nothing to sync. */
  async sync(): Promise<void> {}

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.refresh);
    this.stop.abort();
    await this.tail;
  }

  private noteState(state: { first_seq: number; last_seq: number; bytes: number; first_ts: string; messages: number }): void {
    this.bytes = state.bytes;
    this.lastSeq = Math.max(this.lastSeq, state.last_seq);
    // An empty stream reports first_seq = last_seq + 1.
    this.firstSeq = Math.min(Math.max(state.first_seq, 1), this.nextSeq);
    this.oldestSeen = state.messages > 0 ? Date.parse(state.first_ts) / 1000 : undefined;
    this.options.metrics.streamLastSeq.set(this.lastSeq);
    this.options.metrics.consumerLag.set(Math.max(0, this.lastSeq - (this.nextSeq - 1)));
  }

  private async refreshState(): Promise<void> {
    try {
      this.noteState((await this.jsm.streams.info(this.options.stream)).state);
    } catch {
      // NATS away: the link reports it; the next refresh tries again.
    }
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

  /** Follows the stream from nextSeq for as long as the window is open, re-subscribing after failures. */
  private async runTail(): Promise<void> {
    let expected = this.nextSeq;
    let failures = 0;
    while (!this.closed) {
      try {
        const consumer = await this.js.consumers.get(this.options.stream, { deliver_policy: 'by_start_sequence', opt_start_seq: expected });
        // Short pulls and frequent idle heartbeats: a pull the server no longer holds (after a long pause
        // for room, a restart, or a renewal that lapsed under load — seen stalling an edge 2-5 s in the
        // scale-out benchmark) is noticed after two missed heartbeats, half a second, and renewed.
        const messages = await consumer.consume({ max_messages: 1024, expires: 2000, idle_heartbeat: 250 });
        const onAbort = () => messages.stop();
        this.stop.signal.addEventListener('abort', onAbort, { once: true });
        // After a reconnection the pull request may be gone with the server that had it, and the consumer
        // would wait out its expiry: stop it, and the loop subscribes again from `expected`.
        const offReconnect = this.options.onReconnect?.(() => messages.stop());
        // What the client library does on its own (missed heartbeats, consumer recreated): visible, since
        // each of these is a pause of the stream for this edge's clients.
        void (async () => {
          for await (const n of messages.status()) {
            if (n.type === 'heartbeats_missed' || n.type === 'ordered_consumer_recreated' || n.type === 'reset' || n.type === 'consumer_not_found' || n.type === 'no_responders') {
              this.errorLog.log('warn', `tail-${n.type}`, `stream tail: ${n.type.replace(/_/g, ' ')}`, { ...n, from_seq: expected });
            }
          }
        })().catch(() => undefined);
        try {
          for await (const m of messages) {
            failures = 0;
            if (m.seq < expected) continue;
            if (m.seq > expected) {
              this.options.metrics.tailGaps.inc(m.seq - expected);
              this.options.logger.warn('stream seqs missed by this edge (trimmed before it read them)', { from: expected, to: m.seq - 1 });
              this.flushStaged();
            }
            expected = m.seq + 1;
            this.stage(m);
            const wait = this.options.room?.();
            if (wait !== undefined) {
              this.flushStaged();
              const pausedAt = Date.now();
              await Promise.race([wait, new Promise((resolve) => this.stop.signal.addEventListener('abort', resolve, { once: true }))]);
              // Paused longer than a pull lives: its pulls may have lapsed without a new one. Resubscribe.
              if (Date.now() - pausedAt > 1000) messages.stop();
            }
          }
        } finally {
          this.stop.signal.removeEventListener('abort', onAbort);
          offReconnect?.();
        }
      } catch (err) {
        if (this.closed) break;
        const wait = backoffDelay(++failures, { baseMs: 250, maxMs: 10_000 });
        this.errorLog.log('warn', 'tail', 'stream tail interrupted; resubscribing', { error: describeError(err), from_seq: expected, retry_in_ms: wait });
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, wait);
          this.stop.signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
        });
      }
    }
    this.flushStaged();
  }

  private stage(m: JsMsg): void {
    const record = Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength);
    const probe = probeRecord(record, 0, true);
    if (probe.kind !== 'record' || probe.length !== record.length) {
      // Not an entry this server published (another publisher on the subject): counted as a gap.
      this.options.metrics.tailGaps.inc();
      this.errorLog.log('error', 'bad-record', 'stream message is not a window record; skipped', { seq: m.seq, bytes: record.length });
      this.flushStaged();
      return;
    }
    this.staged.push({ seq: m.seq, record });
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
      for (let i = 0; i < n; i++) frames.push(framesOf(this.staged[i].record));
      const before = this.staged.length;
      this.options.onEntries(frames);
      // The hub appends them synchronously; if it did not (closed), do not hand them on again.
      if (this.staged.length === before) this.staged.splice(0, n);
    }
  }

  private async readStream(stream: StreamName, from: number, maxBytes: number): Promise<ReplayBatch> {
    const reused = this.readers.get(from);
    if (reused === undefined) return this.readStreamWith(undefined, stream, from, maxBytes);
    this.readers.delete(from);
    // A kept reader may have expired on the server meanwhile: then read once more with a fresh one.
    return this.readStreamWith(reused, stream, from, maxBytes).catch(() => this.readStreamWith(undefined, stream, from, maxBytes));
  }

  private async readStreamWith(kept: Consumer | undefined, stream: StreamName, from: number, maxBytes: number): Promise<ReplayBatch> {
    const upTo = Math.min(this.cacheFirst, this.nextSeq);
    const records: Buffer[] = [];
    let first = from;
    try {
      // A reader that ended exactly here goes on (a replay reads chunk after chunk); else a new one.
      const consumer = kept ?? await this.js.consumers.get(this.options.stream, { deliver_policy: 'by_start_sequence', opt_start_seq: from });
      // A count, not bytes: a byte-limited fetch waits out `expires` when fewer bytes exist. The count is
      // estimated from the records held in memory and never asks for more than exist before the cache.
      const average = this.cache.length > this.cacheHead ? this.cachedBytes / (this.cache.length - this.cacheHead) : 8192;
      const count = Math.max(1, Math.min(upTo - from, Math.ceil(maxBytes / average)));
      const messages = await consumer.fetch({ max_messages: count, expires: 2000 });
      let whole = true;
      for await (const m of messages) {
        if (records.length === 0) first = m.seq;
        else if (m.seq !== first + records.length) {
          whole = false;
          break;
        }
        records.push(Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength));
      }
      // Every fetched message taken: the consumer stands at the next seq and can serve the next read.
      if (whole && records.length === count) {
        this.readers.set(first + records.length, consumer);
        for (const key of this.readers.keys()) {
          if (this.readers.size <= MAX_READERS) break;
          this.readers.delete(key);
        }
      }
    } catch (err) {
      throw new CertstreamError('NATS_ERR_UNAVAILABLE', `cannot read seq ${from} from stream ${this.options.stream}: ${describeError(err)}`, { cause: err });
    }
    if (records.length === 0) {
      // Trimmed meanwhile, or nothing between from and the cache: continue from the cache.
      return from < this.cacheFirst && this.cacheFirst < this.nextSeq ? this.read(stream, this.cacheFirst, maxBytes) : contiguousBatch(from, frameRecords([], stream));
    }
    return contiguousBatch(first, frameRecords(records, stream));
  }

  private async seqAtTimeFromStream(since: number): Promise<number> {
    try {
      const consumer = await this.js.consumers.get(this.options.stream, { deliver_policy: 'by_start_time', opt_start_time: new Date(since * 1000).toISOString() });
      const m = await consumer.next({ expires: 2000 });
      return m === null ? this.nextSeq : Math.min(m.seq, this.nextSeq);
    } catch (err) {
      throw new CertstreamError('NATS_ERR_UNAVAILABLE', `cannot find the stream position of since=${since}: ${describeError(err)}`, { cause: err });
    }
  }
}

/** The three frames of a window record, as the hub's publish takes them. */
export function framesOf(record: Buffer): StreamFrames {
  const key = recordKey(record, 0);
  const text = (stream: StreamName) => {
    const parts = payloadParts(record, stream);
    return parts.length === 1 ? parts[0].toString('utf8') : Buffer.concat(parts).toString('utf8');
  };
  return { lite: text('lite'), full: text('full'), domains: text('domains'), log: key.log, index: key.index, seen: key.seen };
}
