/**
 * The replay window on local disk: segment files in `<state dir>/replay/`, written sequentially, each
 * entry once (record-codec.ts), trimmed from the old end by age and by bytes. The newest part is also
 * kept in memory (up to `cacheBytes`) so that live and nearly-live readers never touch the disk; older
 * reads go to the files on demand, so memory stays bounded whatever the window's size.
 *
 * Crash safety: appends are written synchronously (a kill -9 cannot lose what append returned, the page
 * cache keeps it); `sync()` fsyncs before the cursors are written, so the window is never behind them.
 * On open a torn tail — a record cut by a kill -9, or garbage — is cut at the last whole record.
 */
import { closeSync, fdatasync, fsyncSync, mkdirSync, openSync, readdirSync, unlinkSync, writeSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { CertstreamError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { encodeRecordInto, recordBound, type WindowEntry } from './record-codec.js';
import { frameRecords } from './record-frames.js';
import { contiguousBatch, type ReplayBatch, type ReplayWindow, type StreamName } from './replay-window.js';
import { Segment, parseSegmentName, segmentName } from './segment.js';

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
}

/** Size of a reused disk-read buffer (a read of up to this many bytes allocates nothing). */
const SPARE_BYTES = 4 * 1024 * 1024;
/** Segment read handles kept open at most (LRU by opening order). */
const MAX_HANDLES = 16;
/** Reused read buffers kept (one per concurrent disk reader; more readers allocate). */
const MAX_SPARES = 2;

/** Where the window lives inside the state directory. */
export const REPLAY_DIR = 'replay';

export class LocalReplayWindow implements ReplayWindow {
  private readonly dir: string;
  private readonly segments: Segment[] = [];
  private activeFd: number;
  private activeOpenedAt: number;
  private totalBytes = 0;
  private dirty = false;
  /** Highest index held per log: an entry at or below it is a repeat (refetched after a crash). */
  private readonly lastIndex = new Map<string, number>();
  /** Newest whole records (each a Buffer), for seqs [cacheFirst, nextSeq). */
  private cache: Buffer[] = [];
  private cacheHead = 0;
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
    this.segmentBytes = options.segmentBytes ?? Math.max(1024 * 1024, Math.min(64 * 1024 * 1024, Math.floor(options.maxBytes / 8)));
    this.segmentMs = (options.segmentSeconds ?? Math.max(1, options.windowSeconds / 15)) * 1000;
    this.cacheMax = options.cacheBytes ?? 8 * 1024 * 1024;
    mkdirSync(this.dir, { recursive: true });
    const seqs = readdirSync(this.dir)
      .map(parseSegmentName)
      .filter((s): s is number => s !== undefined)
      .sort((a, b) => a - b);
    const noteKey = (log: string, index: number) => {
      if (index > (this.lastIndex.get(log) ?? -1)) this.lastIndex.set(log, index);
    };
    for (const [i, seq] of seqs.entries()) {
      const prev = this.segments[this.segments.length - 1];
      // A segment that starts before the previous one ends overlaps it (a crash between roll and trim
      // cannot cause this; a hand-edited directory can): drop the later one rather than repeat seqs.
      if (prev !== undefined && seq < prev.endSeq) {
        unlinkSync(join(this.dir, segmentName(seq)));
        continue;
      }
      const segment = new Segment(this.dir, seq);
      const cut = segment.scan(noteKey, i === seqs.length - 1);
      if (cut > 0) options.logger?.warn('replay window: torn tail cut at the last whole record', { segment: segment.path, bytes_cut: cut });
      this.segments.push(segment);
      this.totalBytes += segment.size;
    }
    if (this.segments.length === 0) this.segments.push(new Segment(this.dir, 0));
    this.activeFd = openSync(this.active.path, 'a');
    this.activeOpenedAt = this.now();
    this.cacheFirst = this.nextSeq;
    this.trim();
    this.trimTimer = setInterval(() => {
      if (this.diskReads === this.diskReadsSeen) this.spare.length = 0;
      this.diskReadsSeen = this.diskReads;
      try {
        this.trim();
      } catch (err) {
        options.logger?.error('replay window: trimming failed', { error: String(err) });
      }
    }, options.trimIntervalMs ?? 5000);
    this.trimTimer.unref();
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
    let bound = 0;
    for (const e of entries) {
      if (e.index <= (this.lastIndex.get(e.log) ?? -1)) continue;
      this.lastIndex.set(e.log, e.index);
      appended.push(e);
      bound += recordBound(e);
    }
    if (appended.length === 0) return { seq, appended };
    this.rollIfDue();
    // Encoded into one reused scratch buffer, written from it, and copied once into an exact-size buffer
    // that the cache keeps (its records are views into it): the only allocation per append.
    // A catch-up batch larger than SPARE_BYTES gets a buffer of its own, so the scratch stays small.
    if (this.scratch.length < bound && bound <= SPARE_BYTES) this.scratch = Buffer.allocUnsafe(Math.min(SPARE_BYTES, Math.max(bound, this.scratch.length * 2)));
    const scratch = this.scratch.length >= bound ? this.scratch : Buffer.allocUnsafe(bound);
    const lengths: number[] = [];
    let size = 0;
    for (const e of appended) {
      const n = encodeRecordInto(e, scratch, size);
      lengths.push(n);
      size += n;
    }
    writeSync(this.activeFd, scratch, 0, size);
    this.dirty = true;
    const bytes = Buffer.allocUnsafe(size);
    scratch.copy(bytes, 0, 0, size);
    let at = 0;
    for (let i = 0; i < lengths.length; i++) {
      const view = bytes.subarray(at, at + lengths[i]);
      at += view.length;
      this.active.add(view.length, appended[i].seen);
      this.cache.push(view);
      this.cachedBytes += view.length;
    }
    this.totalBytes += bytes.length;
    this.trim();
    return { seq, appended };
  }

  read(stream: StreamName, fromSeq: number, maxBytes: number): ReplayBatch | Promise<ReplayBatch> {
    const from = Math.max(fromSeq, this.firstSeq);
    if (from >= this.cacheFirst || from >= this.nextSeq) {
      const start = Math.min(from, this.nextSeq);
      const records: Buffer[] = [];
      let bytes = 0;
      for (let i = this.cacheHead + (start - this.cacheFirst); i < this.cache.length && (records.length === 0 || bytes < maxBytes); i++) {
        records.push(this.cache[i]);
        bytes += this.cache[i].length;
      }
      return contiguousBatch(start, frameRecords(records, stream));
    }
    return this.readDisk(stream, from, maxBytes);
  }

  seqAtTime(since: number): number {
    for (const s of this.segments) {
      const seq = s.seqAtTime(since);
      if (seq !== undefined) return seq;
    }
    return this.nextSeq;
  }

  sync(): Promise<void> {
    if (!this.dirty || this.closed) return Promise.resolve();
    this.dirty = false;
    const fd = this.activeFd;
    return new Promise((resolve, reject) =>
      fdatasync(fd, (err) => {
        if (err) {
          this.dirty = true;
          reject(new CertstreamError('STATE_ERR_IO', `cannot sync the replay window ${this.active.path}`, { cause: err }));
        } else resolve();
      }),
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    clearInterval(this.trimTimer);
    await this.sync();
    this.closed = true;
    closeSync(this.activeFd);
    for (const seg of [...this.handles.keys()]) this.dropHandle(seg);
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
    if (last !== undefined && last < cutoff) this.roll();
    while (this.segments.length > 1) {
      const oldest = this.segments[0];
      const expired = oldest.lastSeen === undefined || oldest.lastSeen < cutoff;
      if (!expired && this.totalBytes <= this.options.maxBytes) break;
      this.segments.shift();
      this.totalBytes -= oldest.size;
      this.dropHandle(oldest);
      unlinkSync(oldest.path);
    }
    this.trimCache();
  }

  private rollIfDue(): void {
    const a = this.active;
    if (a.offsets.length > 0 && (a.size >= this.segmentBytes || this.now() - this.activeOpenedAt >= this.segmentMs)) this.roll();
  }

  private roll(): void {
    if (this.active.offsets.length === 0) return;
    // Closed segments are never synced again: make this one durable now (once per segment).
    fsyncSync(this.activeFd);
    closeSync(this.activeFd);
    this.segments.push(new Segment(this.dir, this.nextSeq));
    this.activeFd = openSync(this.active.path, 'a');
    this.activeOpenedAt = this.now();
  }

  private trimCache(): void {
    const floor = this.firstSeq;
    while (this.cacheHead < this.cache.length && (this.cachedBytes > this.cacheMax || this.cacheFirst < floor)) {
      this.cachedBytes -= this.cache[this.cacheHead].length;
      this.cacheHead++;
      this.cacheFirst++;
    }
    if (this.cacheHead === this.cache.length) this.cacheFirst = Math.max(this.cacheFirst, floor);
    if (this.cacheHead > 4096 && this.cacheHead * 2 > this.cache.length) {
      this.cache = this.cache.slice(this.cacheHead);
      this.cacheHead = 0;
    }
  }

  private async readDisk(stream: StreamName, from: number, maxBytes: number): Promise<ReplayBatch> {
    const i = this.segments.findIndex((s) => s.endSeq > from);
    if (i < 0) return this.read(stream, this.nextSeq, maxBytes);
    const seg = this.segments[i];
    const start = Math.max(from, seg.firstSeq);
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
    try {
      const fh = await handle;
      let done = 0;
      while (done < size) {
        const { bytesRead } = await fh.read(buf, done, size - done, startOffset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      if (done < size) throw new CertstreamError('STATE_ERR_IO', `replay segment ${seg.path} is shorter than its index`);
    } catch (err) {
      release();
      // Another reader's open evicted this handle mid-read (it was closed under us): read again.
      if ((err as { code?: string }).code === 'EBADF' && this.handles.get(seg) !== handle && this.segments.includes(seg) && !this.closed) return this.readDisk(stream, from, maxBytes);
      // The segment was trimmed while we read: the reader asks again from the new start.
      if ((err as { code?: string }).code === 'ENOENT' || !this.segments.includes(seg)) return contiguousBatch(start, frameRecords([], stream));
      throw err;
    }
    const records: Buffer[] = [];
    for (let k = first; k < last; k++) {
      const end = (k + 1 < seg.offsets.length ? seg.offsets[k + 1] : seg.size) - startOffset;
      records.push(buf.subarray(seg.offsets[k] - startOffset, end));
    }
    // frameRecords copies every payload into the batch's own buffer, so the read buffer is free after it.
    const batch = frameRecords(records, stream);
    release();
    return contiguousBatch(start, batch);
  }
}

