/**
 * The replay window on local disk: segment files in `<state dir>/replay/`, written sequentially, each
 * entry once (record-codec.ts), trimmed from the old end by age and by bytes. The newest part is also
 * kept in memory (up to `cacheBytes`) so that live and nearly-live readers never touch the disk; older
 * reads go to the files on demand, so memory stays bounded whatever the window's size.
 *
 * Crash safety: appends are written synchronously (a kill -9 cannot lose what append returned, the page
 * cache keeps it); `sync()` fsyncs before the cursors are written, so the window is never behind them.
 * On open a torn tail — a record cut by a kill -9, or garbage — is cut at the last whole record.
 *
 * Faults (interface.md, "Faults and hostile clients"): every record is CRC-checked when it is read from
 * disk; a damaged one is skipped (the batch's `next` covers it), counted and logged at most once a
 * minute. A write that fails is undone (records are written at explicit offsets and the file cut back),
 * the append throws (the hub counts the entries kept out), `/healthz` is degraded through problems(), and
 * the next append after `retryMs` tries again. A segment deleted under the server is dropped with one log
 * line; a deleted active segment is sealed and writing continues in a new one, so seqs stay unique.
 */
import { closeSync, constants, fdatasync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readdirSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Registry } from 'prom-client';
import { CertstreamError, describeError } from '../errors.js';
import { silentLogger, type Logger } from '../log/logger.js';
import { RateLimitedLog } from '../log/rate-limited.js';
import { compactChain, compactDefs, encodeCompact, isCompact, prepareCompact } from './compact-record.js';
import { MAX_RECORD_BYTES, encodeRecordInto, probeRecord, recordBound, type WindowEntry } from './record-codec.js';
import { frameRecords } from './record-frames.js';
import { contiguousBatch, recordKeys, type FrameKey, type FramedBatch, type ReplayBatch, type ReplayWindow, type StreamName } from './replay-window.js';
import { Segment, parseSegmentName, segmentName } from './segment.js';
import { fsyncDirectory, indexName, readSegmentIndex, writeSegmentIndex } from './segment-index.js';
import { windowMetrics, type WindowMetrics } from './window-metrics.js';

export interface LocalReplayWindowOptions {
  /** The state directory; segments go to its `replay/` subdirectory. */
  stateDir: string;
  /** How long entries stay replayable, seconds (--replay-window, default 900). */
  windowSeconds: number;
  /** Disk cap, bytes (--replay-window-bytes); the oldest segments go first. */
  maxBytes: number;
  /**
   * Bytes of the newest records kept in memory (default 8 MiB: about half a second of stream at 2,000
   * entries/s). Clients at the head take the hub's live batch and never read the window; the cache only
   * serves clients a moment behind, and anything older is still in the OS page cache, read at well over
   * 100,000 frames/s. At 32 MiB the cache was a third of the server's resident memory.
   */
  cacheBytes?: number;
  /** A segment is closed at this size (default min(64 MiB, maxBytes / 8)). */
  segmentBytes?: number;
  /** … or at this age, seconds (default windowSeconds / 15), so that trimming by age is fine-grained. */
  segmentSeconds?: number;
  logger?: Logger;
  /** How often a quiet window is trimmed by age, ms (default 5000; appends trim too). */
  trimIntervalMs?: number;
  /** Clock, epoch ms (tests). */
  now?: () => number;
  /** Where certstream_replay_window_corrupt_records_total is registered (the server's registry). */
  registry?: Registry;
  /** After a failed write, appends are refused without touching the disk for this long, ms (default 1000). */
  retryMs?: number;
}

/** Why the window is not appending, for /healthz and the log. */
interface AppendFailure {
  /** Epoch ms of the first failure. */
  since: number;
  error: string;
  /** Entries kept out since. */
  entries: number;
  /** Epoch ms before which appends are refused without a write. */
  retryAt: number;
}

/** Size of a reused disk-read buffer (a read of up to this many bytes allocates nothing). */
const SPARE_BYTES = 4 * 1024 * 1024;
/** Segment read handles kept open at most (LRU by opening order). */
const MAX_HANDLES = 16;
/** Reused read buffers kept (one per concurrent disk reader; more readers allocate). */
const MAX_SPARES = 2;
/** Closed segments whose chain certificates stay in memory after a disk read (the most recently read). */
const MAX_LOADED_CERT_TABLES = 4;

/** Where the window lives inside the state directory. */
export const REPLAY_DIR = 'replay';

/** A read of records (framed), with the record bytes it took when known (to learn the expansion). */
type RecordsRead = ReplayBatch & { readonly recordBytes?: number };

/** Frame bytes per record byte assumed before a stream's first read (a compact full frame is ~8× its record). */
const INITIAL_EXPANSION = 8;

/**
 * The batch cut to at most `maxBytes` of frames (at least one frame). Only a contiguous batch (one frame
 * per seq) is cut: with frames left out, which seq a frame is would be unknown.
 */
function cutBatch(r: ReplayBatch, maxBytes: number): ReplayBatch {
  const { ends } = r.batch;
  if (r.batch.bytes.length <= maxBytes || ends.length <= 1 || r.next !== r.first + ends.length) return r;
  let k = 1;
  while (k < ends.length && ends[k] <= maxBytes) k++;
  const batch = { bytes: r.batch.bytes.subarray(0, ends[k - 1]), ends: ends.slice(0, k), payloads: r.batch.payloads.slice(0, k) };
  return { first: r.first, next: r.first + k, batch, keys: r.keys?.slice(0, k) };
}

/** What a trimmed cache slot holds until the array is compacted (never read: reads start at cacheHead). */
const TRIMMED = Buffer.alloc(0);

export class LocalReplayWindow implements ReplayWindow {
  private readonly dir: string;
  private readonly segments: Segment[] = [];
  private activeFd: number;
  private activeOpenedAt: number;
  private totalBytes = 0;
  /** Appends written so far / covered by a finished fsync: sync() waits until the second reaches the first. */
  private writeGen = 0;
  private syncedGen = 0;
  /** The fdatasync under way (its fd is closed only after it settles) and the one queued behind it. */
  private syncing: { gen: number; fd: number; done: Promise<void> } | undefined;
  private syncQueued: Promise<void> | undefined;
  private failure: AppendFailure | undefined;
  private corrupt = 0;
  private readonly metrics: WindowMetrics;
  private readonly logger: Logger;
  /** Repeating failures (appends, damaged records, rolls, trims): one line a minute per cause. */
  private readonly failureLog: RateLimitedLog;
  /** Highest index held per log: an entry at or below it is a repeat (refetched after a crash). */
  private readonly lastIndex = new Map<string, number>();
  /** Newest whole records (each a Buffer), for seqs [cacheFirst, nextSeq). */
  private cache: Buffer[] = [];
  /** The segment of each cached record (whose certificate table its compact records name). */
  private cacheSegments: Segment[] = [];
  /** Closed segments whose certificates a disk read loaded, least recently read first. */
  private certTables: Segment[] = [];
  /** Disk reads under way per segment: their certificates stay loaded until they have framed. */
  private readonly certReaders = new Map<Segment, number>();
  private cacheHead = 0;
  /** Frame bytes per record byte read, per stream (learnt from reads; see read). */
  private readonly expansion = new Map<StreamName, number>();
  private cacheFirst: number;
  private cachedBytes = 0;
  private readonly now: () => number;
  private readonly segmentBytes: number;
  private readonly segmentMs: number;
  private readonly cacheMax: number;
  private closed = false;
  private readonly trimTimer: NodeJS.Timeout;
  /**
   * Read handles of segments, opened on the first disk read and kept until the segment is trimmed or the
   * window closed: a replay makes hundreds of reads per second, an open/close pair each cost a third of it.
   */
  private readonly handles = new Map<Segment, Promise<FileHandle>>();
  /**
   * Read buffers of finished disk reads, reused: the records are copied into frames at once, so a read
   * buffer is garbage right after; allocating a fresh megabyte per read made the GC a fifth of a replay.
   */
  private readonly spare: Buffer[] = [];
  /** Where appends encode their records (grows to the largest append, then reused). */
  private scratch = Buffer.alloc(0);
  /** Disk reads so far; the trim timer frees the spare buffers when none happened since its last tick. */
  private diskReads = 0;
  private diskReadsSeen = 0;

  /**
   * Opens (or creates) the window: indexes every segment, cuts a torn tail, trims what is too old.
   * @throws CertstreamError STATE_ERR_IO when the directory or a segment cannot be read or written
   */
  static open(options: LocalReplayWindowOptions): LocalReplayWindow {
    try {
      return new LocalReplayWindow(options);
    } catch (err) {
      if (err instanceof CertstreamError) throw err;
      throw new CertstreamError('STATE_ERR_IO', `cannot open the replay window in ${join(options.stateDir, REPLAY_DIR)}`, { cause: err });
    }
  }

  private constructor(private readonly options: LocalReplayWindowOptions) {
    this.dir = join(options.stateDir, REPLAY_DIR);
    this.now = options.now ?? Date.now;
    this.logger = options.logger ?? silentLogger;
    this.failureLog = new RateLimitedLog(this.logger, { now: this.now });
    this.metrics = windowMetrics(options.registry);
    this.segmentBytes = options.segmentBytes ?? Math.max(1024 * 1024, Math.min(64 * 1024 * 1024, Math.floor(options.maxBytes / 8)));
    this.segmentMs = (options.segmentSeconds ?? Math.max(1, options.windowSeconds / 15)) * 1000;
    this.cacheMax = options.cacheBytes ?? 8 * 1024 * 1024;
    // A directory just created is made durable in its parent, as every segment created later is in it.
    if (mkdirSync(this.dir, { recursive: true }) !== undefined) fsyncDirectory(dirname(this.dir));
    const names = readdirSync(this.dir);
    const seqs = names
      .map(parseSegmentName)
      .filter((s): s is number => s !== undefined)
      .sort((a, b) => a - b);
    this.removeStrayIndexes(names, new Set(seqs));
    const noteKey = (log: string, index: number) => {
      if (index > (this.lastIndex.get(log) ?? -1)) this.lastIndex.set(log, index);
    };
    // One read buffer for every segment's scan (dropped once open).
    const scratch = { buf: Buffer.alloc(0) };
    for (const [i, seq] of seqs.entries()) {
      const prev = this.segments[this.segments.length - 1];
      // A segment that starts before the previous one ends overlaps it (a crash between roll and trim
      // cannot cause this; a hand-edited directory can): drop the later one rather than repeat seqs.
      if (prev !== undefined && seq < prev.endSeq) {
        unlinkSync(join(this.dir, segmentName(seq)));
        rmSync(join(this.dir, indexName(seq)), { force: true });
        continue;
      }
      const segment = new Segment(this.dir, seq);
      const newest = i === seqs.length - 1;
      if (newest || !this.openFromIndex(segment, noteKey)) {
        const found = segment.scan(noteKey, seqs[i + 1], scratch);
        if (found.cut > 0) this.logger.warn('replay window: torn tail cut at the last whole record', { segment: segment.path, bytes_cut: found.cut });
        // The newest segment is written on: its index would be stale at once (it gets one when sealed).
        if (newest) rmSync(segment.indexPath, { force: true });
        else this.writeIndex(segment, 'replay window: a closed segment had no usable index; scanned, index rewritten');
      }
      if (segment.damagedAtScan > 0) {
        this.countCorrupt(segment.damagedAtScan, segment, 'damaged records found at start; the intact ones after them are kept');
      }
      this.segments.push(segment);
      this.totalBytes += segment.size;
    }
    const created = this.segments.length === 0;
    if (created) this.segments.push(new Segment(this.dir, 0));
    this.activeFd = this.openSegmentFile(this.active.path, created);
    this.activeOpenedAt = this.now();
    this.cacheFirst = this.nextSeq;
    this.trim();
    this.trimTimer = setInterval(() => {
      if (this.diskReads === this.diskReadsSeen) this.spare.length = 0;
      this.diskReadsSeen = this.diskReads;
      try {
        this.checkFiles();
        this.trim();
        this.boundCertTables();
      } catch (err) {
        this.failureLog.log('error', 'trim', 'replay window: trimming failed', { error: describeError(err) });
      }
    }, options.trimIntervalMs ?? 5000);
    this.trimTimer.unref();
  }

  /**
   * Takes a closed segment from its index (segment-index.ts) when the index is whole and of the segment at
   * its current size; false when it must be scanned.
   */
  private openFromIndex(segment: Segment, noteKey: (log: string, index: number) => void): boolean {
    const index = readSegmentIndex(segment.indexPath);
    if (index === undefined) return false;
    const size = statSync(segment.path).size;
    if (!segment.loadIndex(index, size)) return false;
    for (const [log, i] of segment.maxIndex) noteKey(log, i);
    return true;
  }

  /**
   * Writes a sealed segment's index. A failure costs only a scan at the next open, so it is logged, never
   * thrown (it must not fail the append that sealed the segment).
   * @param note the log line, when writing it is worth one (a rebuild at open)
   */
  private writeIndex(segment: Segment, note?: string): void {
    try {
      writeSegmentIndex(this.dir, segment.indexData());
      if (note !== undefined) this.logger.info(note, { segment: segment.path, index: segment.indexPath });
    } catch (err) {
      this.failureLog.log('warn', 'index', 'replay window: cannot write a segment index; it will be scanned at the next start', { segment: segment.path, error: describeError(err) });
    }
  }

  /**
   * Removes index files of segments that are gone and temp files of index writes cut short (a kill -9
   * between write and rename): neither is ever read.
   */
  private removeStrayIndexes(names: readonly string[], seqs: ReadonlySet<number>): void {
    for (const name of names) {
      const m = /^(\d{16})\.idx(\.tmp)?$/.exec(name);
      if (m !== null && (m[2] !== undefined || !seqs.has(Number(m[1])))) rmSync(join(this.dir, name), { force: true });
    }
  }

  get firstSeq(): number {
    return this.segments[0].firstSeq;
  }

  get nextSeq(): number {
    return this.active.endSeq;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  get oldestSeen(): number | undefined {
    for (const s of this.segments) if (s.firstSeen !== undefined) return s.firstSeen;
    return undefined;
  }

  private get active(): Segment {
    return this.segments[this.segments.length - 1];
  }

  append(entries: readonly WindowEntry[]): { seq: number; appended: WindowEntry[] } {
    if (this.closed) throw new CertstreamError('STATE_ERR_IO', 'replay window is closed');
    const seq = this.nextSeq;
    const appended: WindowEntry[] = [];
    // The dedupe's previous values, restored when the write fails (nothing of it was stored).
    const before = new Map<string, number | undefined>();
    let bound = 0;
    for (const e of entries) {
      const last = this.lastIndex.get(e.log);
      if (e.index <= (last ?? -1)) continue;
      if (!before.has(e.log)) before.set(e.log, last);
      this.lastIndex.set(e.log, e.index);
      appended.push(e);
      bound += recordBound(e);
    }
    if (appended.length === 0) return { seq, appended };
    let size = 0;
    let bytes: Buffer;
    const lengths: number[] = [];
    // Waiting to retry after a failed write: refused without touching the disk (the reason stays the write's).
    const waiting = this.failure !== undefined && this.now() < this.failure.retryAt;
    try {
      if (waiting) throw new CertstreamError('STATE_ERR_IO', `not appending since a write failed: ${this.failure!.error}`);
      this.checkActive();
      this.rollIfDue();
      // Encoded into one reused scratch buffer, written from it, and copied once into an exact-size buffer
      // that the cache keeps (its records are views into it): the only allocation per append.
      // A catch-up batch larger than SPARE_BYTES gets a buffer of its own, so the scratch stays small.
      if (this.scratch.length < bound && bound <= SPARE_BYTES) this.scratch = Buffer.allocUnsafe(Math.min(SPARE_BYTES, Math.max(bound, this.scratch.length * 2)));
      const scratch = this.scratch.length >= bound ? this.scratch : Buffer.allocUnsafe(bound);
      for (const e of appended) {
        const n = this.encodeEntry(e, scratch, size, this.active.size + size);
        lengths.push(n);
        size += n;
      }
      this.writeRecords(scratch, size);
      this.active.certs.commit();
      bytes = Buffer.allocUnsafe(size);
      scratch.copy(bytes, 0, 0, size);
    } catch (err) {
      this.active.certs.rollback();
      for (const [log, last] of before) {
        if (last === undefined) this.lastIndex.delete(log);
        else this.lastIndex.set(log, last);
      }
      throw this.appendFailed(err, appended.length, waiting);
    }
    if (this.failure !== undefined) {
      const { since, entries: keptOut } = this.failure;
      this.failure = undefined;
      this.failureLog.reset('append');
      this.logger.info('replay window: appending again', { entries_kept_out: keptOut, failing_seconds: Math.round((this.now() - since) / 1000) });
    }
    this.writeGen++;
    let at = 0;
    for (let i = 0; i < lengths.length; i++) {
      const view = bytes.subarray(at, at + lengths[i]);
      at += view.length;
      this.active.add(view.length, appended[i].seen, appended[i].log, appended[i].index);
      this.cache.push(view);
      this.cacheSegments.push(this.active);
      this.cachedBytes += view.length;
    }
    this.totalBytes += bytes.length;
    this.trim();
    return { seq, appended };
  }

  /**
   * Encodes one entry at `out[at]` (room for recordBound): compact — chain certificates by id in the
   * active segment, the rest deflated — when it carries the renderer's parts of its frames, plain otherwise.
   * @param fileOffset where the record goes in the active segment (its certificate definitions' place)
   */
  private encodeEntry(e: WindowEntry, out: Buffer, at: number, fileOffset: number): number {
    const prepared = e.parts === undefined ? undefined : prepareCompact(e.lite, e.parts);
    if (prepared === undefined) return encodeRecordInto(e, out, at);
    const { chain, defs } = this.active.certs.intern(e.parts!.chain, fileOffset);
    const n = encodeCompact(e.seen, e.index, e.log, prepared, defs, chain, out, at);
    // Never larger than the plain record (the chain is at most as long as in full, the rest deflated).
    if (n < 0) throw new CertstreamError('STATE_ERR_IO', 'a compact record outgrew its bound');
    return n;
  }

  /**
   * Why `/healthz` cannot say `ok` because of the window: one line while appends fail, none otherwise
   * (the serving mode's problems()).
   */
  problems(): string[] {
    const f = this.failure;
    if (f === undefined) return [];
    return [`replay window cannot append since ${new Date(f.since).toISOString()} (${f.entries} entries kept out, durable and since clients miss them): ${f.error}`];
  }

  /** Damaged records found so far (at start and by reads); each counted once. */
  get corruptRecords(): number {
    return this.corrupt;
  }

  /**
   * Writes the encoded records at the end of the active segment, all or none: at an explicit offset
   * (not O_APPEND), so that the bytes of a failed write are overwritten by the next one even when cutting
   * them off fails too; `writeSync` may write less than asked (a disk that fills), which is a failure.
   */
  private writeRecords(buf: Buffer, size: number): void {
    const start = this.active.size;
    let done = 0;
    try {
      while (done < size) {
        const n = writeSync(this.activeFd, buf, done, size - done, start + done);
        if (n <= 0) throw new CertstreamError('STATE_ERR_IO', `short write to ${this.active.path}`);
        done += n;
      }
    } catch (err) {
      // Give back the space of a part-written record (and leave no torn record for a restart to cut).
      if (done > 0) {
        try {
          ftruncateSync(this.activeFd, start);
        } catch {
          // Overwritten by the next write at the same offset, or cut as a torn tail at start.
        }
      }
      throw err;
    }
  }

  private appendFailed(err: unknown, entries: number, waiting: boolean): CertstreamError {
    const now = this.now();
    const error = describeError(err);
    const failure = this.failure ?? { since: now, error, entries: 0, retryAt: 0 };
    failure.entries += entries;
    // A refusal while waiting to retry keeps the write's own error as the reason.
    if (!waiting) {
      failure.error = error;
      failure.retryAt = now + (this.options.retryMs ?? 1000);
    }
    this.failure = failure;
    this.failureLog.log('error', 'append', 'replay window: cannot append, entries kept out until writes succeed again', { segment: this.active.path, error: failure.error, entries_kept_out: failure.entries });
    return err instanceof CertstreamError ? err : new CertstreamError('STATE_ERR_IO', `cannot append to the replay window ${this.active.path}: ${error}`, { cause: err });
  }

  read(stream: StreamName, fromSeq: number, maxBytes: number, withKeys = false): ReplayBatch | Promise<ReplayBatch> {
    const from = Math.max(fromSeq, this.firstSeq);
    // maxBytes counts frames, the readers below count records: a compact record frames into several
    // times its size (a full frame ~8×), so the record budget is scaled by what this stream's reads
    // have framed so far, and a batch still over maxBytes is cut (durable readers bound their queues
    // with it: 1 MiB of records would be 8 MiB queued per client).
    const expansion = this.expansion.get(stream) ?? INITIAL_EXPANSION;
    const records = Math.max(1, Math.floor(maxBytes / expansion));
    const done = (r: RecordsRead): ReplayBatch => {
      if (r.recordBytes !== undefined && r.recordBytes > 0) this.expansion.set(stream, 0.7 * expansion + 0.3 * (r.batch.bytes.length / r.recordBytes));
      return cutBatch(r, maxBytes);
    };
    if (from >= this.cacheFirst || from >= this.nextSeq) return done(this.readCache(stream, from, records, withKeys));
    return this.readDisk(stream, from, records, withKeys).then(done);
  }

  /**
   * From memory. These records were encoded in this process and never read back from disk: there is
   * nothing for a CRC to catch.
   */
  private readCache(stream: StreamName, from: number, maxBytes: number, withKeys = false): RecordsRead {
    const start = Math.min(Math.max(from, this.cacheFirst), this.nextSeq);
    const records: Buffer[] = [];
    const segments: Segment[] = [];
    let bytes = 0;
    for (let i = this.cacheHead + (start - this.cacheFirst); i < this.cache.length && (records.length === 0 || bytes < maxBytes); i++) {
      records.push(this.cache[i]);
      segments.push(this.cacheSegments[i]);
      bytes += this.cache[i].length;
    }
    // Cached records' segments keep their certificates in memory (boundCertTables).
    const keys = withKeys ? recordKeys(records, (i) => start + i) : undefined;
    return { ...contiguousBatch(start, frameRecords(records, stream, (i, id) => segments[i].certs.get(id))), recordBytes: bytes, keys };
  }

  seqAtTime(since: number): number {
    for (const s of this.segments) {
      const seq = s.seqAtTime(since);
      if (seq !== undefined) return seq;
    }
    return this.nextSeq;
  }

  /**
   * Resolves once everything appended before the call is on disk. A caller that arrives while an
   * fdatasync is under way waits for it when it covers its appends, and otherwise for one more after it
   * (shared by every caller that arrives meanwhile).
   */
  sync(): Promise<void> {
    if (this.closed) return Promise.resolve();
    const target = this.writeGen;
    if (this.syncedGen >= target) return Promise.resolve();
    const running = this.syncing;
    if (running === undefined) return this.startSync();
    if (running.gen >= target) return running.done;
    this.syncQueued ??= running.done
      .catch(() => undefined)
      .then(() => {
        this.syncQueued = undefined;
        return this.sync();
      });
    return this.syncQueued;
  }

  private startSync(): Promise<void> {
    const gen = this.writeGen;
    const fd = this.activeFd;
    const path = this.active.path;
    const done = new Promise<void>((resolve, reject) =>
      fdatasync(fd, (err) => {
        this.syncing = undefined;
        if (err) reject(new CertstreamError('STATE_ERR_IO', `cannot sync the replay window ${path}`, { cause: err }));
        else {
          this.syncedGen = Math.max(this.syncedGen, gen);
          resolve();
        }
      }),
    );
    this.syncing = { gen, fd, done };
    return done;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    clearInterval(this.trimTimer);
    try {
      await this.sync();
    } finally {
      await this.syncing?.done.catch(() => undefined);
      this.closed = true;
      closeSync(this.activeFd);
      for (const seg of [...this.handles.keys()]) this.dropHandle(seg);
    }
  }

  /** Closes a segment's read handle (FileHandle.close waits for reads in flight). */
  private dropHandle(seg: Segment): void {
    const fh = this.handles.get(seg);
    if (fh === undefined) return;
    this.handles.delete(seg);
    fh.then((h) => h.close()).catch(() => undefined);
  }

  private handle(seg: Segment): Promise<FileHandle> {
    let fh = this.handles.get(seg);
    if (fh === undefined) {
      fh = open(seg.path, 'r');
      // A failed open is not kept: the next read tries again (or finds the segment trimmed).
      fh.catch(() => this.handles.get(seg) === fh && this.handles.delete(seg));
      this.handles.set(seg, fh);
      // Bounded: a large window has hundreds of segments, and descriptors are shared with client sockets.
      // Map order is opening order; readers move forward, so the oldest opened is the least likely needed.
      if (this.handles.size > MAX_HANDLES) this.dropHandle(this.handles.keys().next().value as Segment);
    }
    return fh;
  }

  /** Drops segments that are too old or over the byte cap, never the one being written. */
  trim(): void {
    const cutoff = this.now() / 1000 - this.options.windowSeconds;
    const last = this.active.lastSeen;
    // A quiet window: the active segment itself expired; start a new (empty) one so it can go.
    if (last !== undefined && last < cutoff) this.tryRoll();
    while (this.segments.length > 1) {
      const oldest = this.segments[0];
      const expired = oldest.lastSeen === undefined || oldest.lastSeen < cutoff;
      if (!expired && this.totalBytes <= this.options.maxBytes) break;
      this.segments.shift();
      this.totalBytes -= oldest.size;
      this.dropHandle(oldest);
      removeIndex(oldest.indexPath);
      try {
        unlinkSync(oldest.path);
      } catch (err) {
        // Already gone (deleted by hand) is what trimming wanted; anything else leaves a file to remove.
        if ((err as { code?: string }).code !== 'ENOENT') this.failureLog.log('warn', 'trim', 'replay window: cannot remove a trimmed segment', { segment: oldest.path, error: describeError(err) });
      }
    }
    this.trimCache();
  }

  /**
   * Notices segment files deleted under the server (the trim timer): a closed one is dropped, the
   * active one sealed (checkActive).
   */
  private checkFiles(): void {
    if (this.closed) return;
    for (const seg of this.segments.slice(0, -1)) {
      if (statSync(seg.path, { throwIfNoEntry: false }) === undefined) this.dropVanished(seg);
    }
    try {
      this.checkActive();
    } catch (err) {
      this.failureLog.log('error', 'roll', 'replay window: cannot open a new segment', { error: describeError(err) });
    }
  }

  /** Removes a segment whose file is gone from the window; its seqs are skipped (counted by readers). */
  private dropVanished(seg: Segment): void {
    const i = this.segments.indexOf(seg);
    if (i < 0 || seg === this.active) return;
    this.segments.splice(i, 1);
    this.totalBytes -= seg.size;
    this.dropHandle(seg);
    removeIndex(seg.indexPath);
    this.logger.warn('replay window: a segment file vanished; its entries are dropped from the window', {
      segment: seg.path,
      first_seq: seg.firstSeq,
      end_seq: seg.endSeq,
      entries: seg.endSeq - seg.firstSeq,
    });
    this.trimCache();
  }

  /**
   * The active segment deleted (its file unlinked while we write it): everything written to it from now
   * on would vanish at the next restart, and the next start would number entries again from the end of
   * the segment before it. Seal it and write on in a new file named by the next seq; the sealed one is
   * then a vanished segment like any other.
   */
  private checkActive(): void {
    if (fstatSync(this.activeFd).nlink > 0) return;
    const old = this.active;
    if (old.offsets.length === 0) {
      // Nothing in it: the same file again.
      const fd = this.openSegmentFile(old.path, true);
      this.closeFd(this.activeFd);
      this.activeFd = fd;
      return;
    }
    this.logger.warn('replay window: the segment being written was deleted; sealed, writing on in a new one', { segment: old.path, first_seq: old.firstSeq, end_seq: old.endSeq });
    this.roll();
    this.dropVanished(old);
  }

  private rollIfDue(): void {
    const a = this.active;
    if (a.offsets.length > 0 && (a.size >= this.segmentBytes || this.now() - this.activeOpenedAt >= this.segmentMs)) this.tryRoll();
  }

  /** A roll that can wait: when it fails (EMFILE, ENOSPC) the active segment simply grows a while longer. */
  private tryRoll(): void {
    try {
      this.roll();
    } catch (err) {
      this.failureLog.log('error', 'roll', 'replay window: cannot open the next segment; the current one grows meanwhile', { segment: this.active.path, error: describeError(err) });
    }
  }

  /**
   * Closes the active segment and starts the next. The next file is opened (and made durable in the
   * directory) before anything changes, so a failure leaves the window writing where it was, never with
   * a closed descriptor (whose number the next open of anything would reuse).
   */
  private roll(): void {
    if (this.active.offsets.length === 0) return;
    const next = new Segment(this.dir, this.nextSeq);
    // Closed segments are never synced again: make this one durable now (once per segment).
    fsyncSync(this.activeFd);
    this.syncedGen = this.writeGen;
    const fd = this.openSegmentFile(next.path, true);
    this.failureLog.reset('roll');
    const old = this.activeFd;
    this.active.certs.seal();
    this.segments.push(next);
    this.activeFd = fd;
    this.activeOpenedAt = this.now();
    this.closeFd(old);
    // After the next file exists: a crash before this leaves the sealed segment without an index (scanned
    // at the next open), never an index of a segment still written on.
    this.writeIndex(this.segments[this.segments.length - 2]);
  }

  /**
   * Opens a segment for writing at explicit offsets (not O_APPEND: see writeRecords).
   * @param create a new file: emptied, and the directory fsync'ed so that the file survives a crash
   */
  private openSegmentFile(path: string, create: boolean): number {
    const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | (create ? constants.O_TRUNC : 0), 0o644);
    if (create) {
      try {
        fsyncDirectory(this.dir);
      } catch (err) {
        closeSync(fd);
        throw err;
      }
    }
    return fd;
  }

  /** Closes a written segment's descriptor, after the fdatasync under way on it if any. */
  private closeFd(fd: number): void {
    const running = this.syncing;
    if (running?.fd === fd) void running.done.catch(() => undefined).finally(() => closeSync(fd));
    else closeSync(fd);
  }

  private trimCache(): void {
    const floor = this.firstSeq;
    while (this.cacheHead < this.cache.length && (this.cachedBytes > this.cacheMax || this.cacheFirst < floor)) {
      this.cachedBytes -= this.cache[this.cacheHead].length;
      // Release the record now: the array is only compacted every 4,096 trims, which at an idle host's
      // 20 entries/s is minutes of dead records (tens of MB) still referenced.
      this.cache[this.cacheHead] = TRIMMED;
      this.cacheHead++;
      this.cacheFirst++;
    }
    if (this.cacheHead === this.cache.length) this.cacheFirst = Math.max(this.cacheFirst, floor);
    if (this.cacheHead > 4096 && this.cacheHead * 2 > this.cache.length) {
      this.cache = this.cache.slice(this.cacheHead);
      this.cacheSegments = this.cacheSegments.slice(this.cacheHead);
      this.cacheHead = 0;
    }
  }

  /**
   * Keeps the chain certificates of closed segments in memory only while cached records name them or
   * for the few segments read last; the others are read back from disk when a read needs them.
   */
  private boundCertTables(): void {
    this.certTables = this.certTables.filter((s) => this.segments.includes(s)).slice(-MAX_LOADED_CERT_TABLES);
    for (const seg of this.segments) {
      if (seg !== this.active && seg.certs.loadedCount > 0 && seg.endSeq <= this.cacheFirst && !this.certTables.includes(seg) && !this.certReaders.has(seg)) seg.certs.unload();
    }
  }

  private releaseCerts(seg: Segment): void {
    const n = (this.certReaders.get(seg) ?? 1) - 1;
    if (n > 0) this.certReaders.set(seg, n);
    else this.certReaders.delete(seg);
  }

  /**
   * Loads from disk the certificates `records` (of `seg`) name; the ids that cannot be loaded (their
   * defining record damaged or gone) are returned, and the records naming them are damaged.
   */
  private async loadCerts(seg: Segment, records: readonly Buffer[]): Promise<Set<number>> {
    const missing = new Set<number>();
    for (const r of records) {
      if (!isCompact(r)) continue;
      for (const id of compactChain(r) ?? []) if (seg.certs.get(id) === undefined) missing.add(id);
    }
    const lost = new Set<number>();
    if (missing.size === 0) return lost;
    // A handle of its own, not one of the kept read handles: those are evicted by other readers' opens,
    // and a load of many definitions would then start over and over.
    const fh = await open(seg.path, 'r');
    try {
      for (const id of missing) {
        if (seg.certs.get(id) !== undefined) continue;
        const offset = seg.certs.definedAt(id);
        const record = offset === undefined ? undefined : await readRecordAt(fh, offset);
        const defs = record === undefined ? undefined : compactDefs(record);
        for (const d of defs ?? []) if (seg.certs.get(d.id) === undefined) seg.certs.put(d.id, Buffer.from(record!.subarray(d.start, d.end)));
        if (seg.certs.get(id) === undefined) lost.add(id);
      }
    } finally {
      await fh.close();
    }
    if (missing.size > 0 && seg !== this.active) {
      this.certTables = this.certTables.filter((s) => s !== seg);
      this.certTables.push(seg);
      this.boundCertTables();
    }
    return lost;
  }

  /** Counts damaged records (once each) and logs them, at most once a minute. */
  private countCorrupt(records: number, seg: Segment, what: string): void {
    this.corrupt += records;
    this.metrics.corruptRecords.inc(records);
    this.failureLog.log('error', 'corrupt', `replay window: ${what}`, { segment: seg.path, records, corrupt_records_total: this.corrupt });
  }

  private async readDisk(stream: StreamName, from: number, maxBytes: number, withKeys: boolean): Promise<RecordsRead> {
    const i = this.segments.findIndex((s) => s.endSeq > from);
    if (i < 0) return this.readCache(stream, this.nextSeq, maxBytes, withKeys);
    const seg = this.segments[i];
    const start = Math.max(from, seg.firstSeq);
    // A segment dropped before `from` (vanished) can leave the next held seq in memory.
    if (start >= this.cacheFirst) return this.readCache(stream, start, maxBytes, withKeys);
    const first = start - seg.firstSeq;
    const startOffset = seg.offsets[first];
    // Whole records up to about maxBytes (at least one), not past what is cached.
    let last = first + 1;
    const limit = Math.min(seg.offsets.length, this.cacheFirst - seg.firstSeq);
    while (last < limit && seg.offsets[last] - startOffset < maxBytes) last++;
    const endOffset = last < seg.offsets.length ? seg.offsets[last] : seg.size;
    const size = endOffset - startOffset;
    this.diskReads++;
    const spare = size <= SPARE_BYTES ? this.spare.pop() : undefined;
    const buf = spare ?? Buffer.allocUnsafe(Math.max(size, SPARE_BYTES));
    const release = () => {
      if (buf.length === SPARE_BYTES && this.spare.length < MAX_SPARES) this.spare.push(buf);
    };
    const handle = this.handle(seg);
    let done = 0;
    try {
      const fh = await handle;
      while (done < size) {
        const { bytesRead } = await fh.read(buf, done, size - done, startOffset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
    } catch (err) {
      release();
      const code = (err as { code?: string }).code;
      // Another reader's open evicted this handle mid-read (it was closed under us): read again.
      if (code === 'EBADF' && this.handles.get(seg) !== handle && this.segments.includes(seg) && !this.closed) return this.readDisk(stream, from, maxBytes, withKeys);
      // The file is gone: deleted under the server (dropped now), or trimmed while we read. Either way
      // the segment is no longer held, and the read goes on from the next seq the window holds.
      if (code === 'ENOENT' && this.segments.includes(seg)) {
        if (seg === this.active) this.checkFiles();
        else this.dropVanished(seg);
      }
      if (!this.segments.includes(seg) && !this.closed) return this.read(stream, Math.max(from, seg.endSeq), maxBytes, withKeys);
      throw err;
    }
    // A file shorter than its index (cut by hand): what is missing reads as damaged records.
    buf.fill(0, done, size);
    const records: Buffer[] = [];
    const seqs: number[] = [];
    let damaged = 0;
    for (let k = first; k < last; k++) {
      const seq = seg.firstSeq + k;
      if (seg.damaged.has(seq)) continue;
      const end = (k + 1 < seg.offsets.length ? seg.offsets[k + 1] : seg.size) - startOffset;
      const bytes = buf.subarray(seg.offsets[k] - startOffset, end);
      // The CRC, and the length against the index: a record flipped on disk since it was written.
      const probe = probeRecord(bytes, 0, true);
      if (probe.kind !== 'record') {
        seg.damaged.add(seq);
        damaged++;
        continue;
      }
      records.push(probe.length === bytes.length ? bytes : bytes.subarray(0, probe.length));
      seqs.push(seq);
    }
    if (damaged > 0) this.countCorrupt(damaged, seg, 'damaged records skipped by a read (never sent)');
    let lost: Set<number>;
    this.certReaders.set(seg, (this.certReaders.get(seg) ?? 0) + 1);
    try {
      lost = await this.loadCerts(seg, records);
    } catch (err) {
      release();
      this.releaseCerts(seg);
      // The file is gone (as above): the read goes on from the next seq the window holds.
      if ((err as { code?: string }).code === 'ENOENT' && this.segments.includes(seg) && seg !== this.active) this.dropVanished(seg);
      if (!this.segments.includes(seg) && !this.closed) return this.read(stream, Math.max(from, seg.endSeq), maxBytes, withKeys);
      throw err;
    }
    // Compact records naming a certificate whose defining record is damaged: damaged too (never framed wrong).
    const framedSeqs: number[] = [];
    const framed = records.filter((r, k) => {
      const chain = isCompact(r) ? compactChain(r) : [];
      const ok = chain !== undefined && !chain.some((id) => lost.has(id));
      if (!ok) seg.damaged.add(seqs[k]);
      else framedSeqs.push(seqs[k]);
      return ok;
    });
    if (framed.length < records.length) this.countCorrupt(records.length - framed.length, seg, 'records whose chain certificates are in a damaged record skipped by a read (never sent)');
    // frameRecords copies every payload into the batch's own buffer, so the read buffer is free after it.
    let batch: FramedBatch;
    let keys: FrameKey[] | undefined;
    try {
      batch = frameRecords(framed, stream, (_, id) => seg.certs.get(id));
      if (withKeys) keys = recordKeys(framed, (k) => framedSeqs[k]);
    } finally {
      this.releaseCerts(seg);
      release();
    }
    return { first: start, next: seg.firstSeq + last, batch, recordBytes: size, keys };
  }
}

/** The whole, CRC-checked record at `offset` of a segment file, or undefined when there is none. */
async function readRecordAt(fh: FileHandle, offset: number): Promise<Buffer | undefined> {
  const head = Buffer.alloc(8);
  if ((await fh.read(head, 0, 8, offset)).bytesRead < 8) return undefined;
  const length = 8 + (head.readUInt32LE(0) & 0x7fffffff);
  if (length > MAX_RECORD_BYTES + 8) return undefined;
  const record = Buffer.allocUnsafe(length);
  const { bytesRead } = await fh.read(record, 0, length, offset);
  const probe = probeRecord(record.subarray(0, bytesRead), 0, true);
  return probe.kind === 'record' && probe.length === length ? record : undefined;
}

/**
 * Removes the index of a segment that goes; one that cannot be removed is harmless (an index whose
 * segment is gone is removed at the next open), so the failure is ignored.
 */
function removeIndex(path: string): void {
  try {
    rmSync(path, { force: true });
  } catch {
    // see above
  }
}
