/**
 * One segment file of the local replay window: consecutive records from `firstSeq` on, named
 * `<firstSeq, 16 digits>.seg`. In memory it keeps only what finding a record needs: the offset of each
 * record (8 bytes per entry), the points where `seen` changes (one per published batch) and the seqs
 * whose record is damaged.
 */
import { closeSync, fstatSync, ftruncateSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { compactDefs, definesCerts, isCompact } from './compact-record.js';
import { findRecord, probeRecord, recordKey } from './record-codec.js';
import { SegmentCerts } from './segment-certs.js';
import { indexName, type SegmentIndexData } from './segment-index.js';

/** `<seq>.seg` with the seq zero-padded so that names sort like numbers. */
export function segmentName(firstSeq: number): string {
  return `${String(firstSeq).padStart(16, '0')}.seg`;
}

/** The first seq of a segment file name, or undefined for any other file. */
export function parseSegmentName(name: string): number | undefined {
  const m = /^(\d{16})\.seg$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** What opening a segment found. */
export interface ScanResult {
  /** Bytes cut off the end (a torn tail of the newest segment). */
  cut: number;
  /** Damaged spans kept in place and skipped. */
  damagedSpans: number;
  /** Records those spans are taken to hold (at least one per span): certstream_replay_window_corrupt_records_total. */
  damagedRecords: number;
}

/** Bytes read at a time when indexing a segment (small reads into one buffer beat one large one). */
const SCAN_CHUNK_BYTES = 1024 * 1024;

export class Segment {
  /** Byte offset of each record in the file. */
  offsets: number[] = [];
  /** Seqs at which `seen` changes, and the new values (for `since`). */
  readonly seenSeqs: number[] = [];
  readonly seenValues: number[] = [];
  /** File size = end of the last record (or of a damaged span kept after it). */
  size = 0;
  /**
   * Seqs whose record is damaged (found at opening, or when a read failed its CRC): skipped by readers,
   * counted once. A record's bytes run from its offset to the next one's; bytes after the record's own
   * length are a damaged span that took no seq, and are ignored.
   */
  readonly damaged = new Set<number>();
  /** The chain certificates its compact records define. */
  readonly certs = new SegmentCerts();
  /** Highest index per log among its records (what the window's dedupe needs from a closed segment). */
  readonly maxIndex = new Map<string, number>();
  /** Damaged records the last scan counted (kept in the index, so that an open from it counts them too). */
  damagedAtScan = 0;
  readonly path: string;
  /** Its index file (segment-index.ts), written when it is sealed. */
  readonly indexPath: string;

  constructor(
    dir: string,
    readonly firstSeq: number,
  ) {
    this.path = join(dir, segmentName(firstSeq));
    this.indexPath = join(dir, indexName(firstSeq));
  }

  /** Seq after the last record. */
  get endSeq(): number {
    return this.firstSeq + this.offsets.length;
  }

  get lastSeen(): number | undefined {
    return this.seenValues.length === 0 ? undefined : this.seenValues[this.seenValues.length - 1];
  }

  get firstSeen(): number | undefined {
    return this.seenValues[0];
  }

  /** Records one appended record of `length` bytes. */
  add(length: number, seen: number, log: string, index: number): void {
    this.noteSeen(this.endSeq, seen);
    this.noteIndex(log, index);
    this.offsets.push(this.size);
    this.size += length;
  }

  private noteIndex(log: string, index: number): void {
    if (index > (this.maxIndex.get(log) ?? -1)) this.maxIndex.set(log, index);
  }

  /** What its index file holds (segment-index.ts). */
  indexData(): SegmentIndexData {
    return {
      firstSeq: this.firstSeq,
      size: this.size,
      offsets: this.offsets,
      seenSeqs: this.seenSeqs,
      seenValues: this.seenValues,
      damaged: [...this.damaged].sort((a, b) => a - b),
      defs: this.certs.definitions(),
      maxIndex: [...this.maxIndex],
      damagedRecords: this.damagedAtScan,
    };
  }

  /**
   * Takes what a scan would find from its index instead, when the index is of this segment at its current
   * size (the caller checked the file's size); false, and nothing taken, otherwise.
   */
  loadIndex(d: SegmentIndexData, fileSize: number): boolean {
    if (d.firstSeq !== this.firstSeq || d.size !== fileSize || this.offsets.length > 0) return false;
    this.offsets = d.offsets;
    for (let k = 0; k < d.seenSeqs.length; k++) {
      this.seenSeqs.push(d.seenSeqs[k]);
      this.seenValues.push(d.seenValues[k]);
    }
    for (const seq of d.damaged) this.damaged.add(seq);
    for (const [id, offset] of d.defs) this.certs.noteDef(id, offset);
    for (const [log, index] of d.maxIndex) this.noteIndex(log, index);
    this.damagedAtScan = d.damagedRecords;
    this.size = d.size;
    return true;
  }

  private noteSeen(seq: number, seen: number): void {
    if (this.lastSeen !== seen) {
      this.seenSeqs.push(seq);
      this.seenValues.push(seen);
    }
  }

  /** Index of the first record whose seen ≥ since, as a seq, or undefined when none. */
  seqAtTime(since: number): number | undefined {
    const v = this.seenValues;
    if (v.length === 0 || v[v.length - 1] < since) return undefined;
    let lo = 0;
    let hi = v.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (v[mid] >= since) hi = mid;
      else lo = mid + 1;
    }
    return this.seenSeqs[lo];
  }

  /**
   * Reads the file and indexes its records (the newest segment's every one CRC-checked; a closed
   * segment's where the lengths do not add up, the rest when read). Damaged bytes are not a reason to lose
   * what follows them: the scan resynchronises on the next whole record and keeps the damaged span in
   * place as a hole of skipped seqs (in `damaged`), so that the records after it keep their seqs. Only
   * in the newest segment, and only when no whole record follows (a write cut by a kill -9, or a failed
   * write), is the end cut off (the file truncated).
   *
   * How many seqs a hole held is not written anywhere: a closed segment knows it from where the next
   * segment starts (each hole holds one, the last one the rest); in the newest segment each hole is
   * taken to be one record.
   * @param onKey called for every whole record with its log and index (the window's per-log dedupe)
   * @param endSeq the next segment's first seq (undefined for the newest segment)
   * @param scratch the read buffer, shared by the scans of one opening (fresh memory for every
   *   segment made the opening two to three times slower)
   */
  scan(onKey: (log: string, index: number) => void, endSeq?: number, scratch: { buf: Buffer } = { buf: Buffer.alloc(0) }): ScanResult {
    const found = this.scanFile((log, index) => {
      this.noteIndex(log, index);
      onKey(log, index);
    }, endSeq, scratch);
    this.damagedAtScan = found.damagedRecords;
    return found;
  }

  private scanFile(onKey: (log: string, index: number) => void, endSeq: number | undefined, scratch: { buf: Buffer }): ScanResult {
    const fd = openSync(this.path, 'r+');
    try {
      const fileSize = fstatSync(fd).size;
      // Only the newest segment is CRC-checked through: a closed one was fsync'ed whole, its records are
      // checked when read, and hopping from length to length keeps a large window quick to open.
      const verify = endSeq === undefined;
      if (this.hop(fd, fileSize, verify, onKey, scratch)) {
        this.size = fileSize;
        return { cut: 0, damagedSpans: 0, damagedRecords: 0 };
      }
      // Damage somewhere: index again from the start with the whole file in memory (rare), so that the
      // scan can look back and ahead of it.
      this.offsets.length = 0;
      this.seenSeqs.length = 0;
      this.seenValues.length = 0;
      const whole = Buffer.allocUnsafe(fileSize);
      let read = 0;
      while (read < fileSize) {
        const n = readSync(fd, whole, read, fileSize - read, read);
        if (n === 0) break;
        read += n;
      }
      const data = whole.subarray(0, read);
      const pieces: { start: number; hole: boolean }[] = [];
      let at = 0;
      let end = read;
      while (at < read) {
        const probe = probeRecord(data, at, verify);
        if (probe.kind === 'record') {
          pieces.push({ start: at, hole: false });
          at += probe.length;
          continue;
        }
        // Damage here. A wrong length that still looked plausible leads here too, one record late: check
        // the records just before, newest first, and resynchronise from the first bad one.
        let from = at;
        while (!verify && pieces.length > 0 && !pieces[pieces.length - 1].hole) {
          const last = pieces[pieces.length - 1].start;
          if (probeRecord(data, last, true).kind === 'record') break;
          pieces.pop();
          from = last;
        }
        const next = findRecord(data, from + 1);
        if (next < 0 && endSeq === undefined) {
          end = from;
          break;
        }
        pieces.push({ start: from, hole: true });
        at = next < 0 ? read : next;
      }
      const records = pieces.filter((p) => !p.hole).length;
      let holesLeft = pieces.length - records;
      let spare = endSeq === undefined ? holesLeft : endSeq - this.firstSeq - records;
      let damagedRecords = 0;
      for (const piece of pieces) {
        if (!piece.hole) {
          const key = recordKey(data, piece.start);
          this.noteSeen(this.endSeq, key.seen);
          this.offsets.push(piece.start);
          onKey(key.log, key.index);
          const probe = probeRecord(data, piece.start, false);
          if (probe.kind === 'record') this.noteDefs(data, piece.start, probe.length, piece.start);
          continue;
        }
        holesLeft--;
        const seqs = Math.max(0, holesLeft === 0 ? spare : Math.min(1, spare));
        spare -= seqs;
        for (let k = 0; k < seqs; k++) {
          this.damaged.add(this.endSeq);
          this.offsets.push(piece.start);
        }
        damagedRecords += Math.max(1, seqs);
      }
      const cut = fileSize - end;
      if (cut > 0) ftruncateSync(fd, end);
      this.size = end;
      return { cut, damagedSpans: pieces.length - records, damagedRecords };
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Notes which certificate ids a compact record defines (its CRC is checked when a definition is read
   * back, so a damaged record can make an id unreadable, never wrong).
   */
  private noteDefs(buf: Buffer, at: number, length: number, fileOffset: number): void {
    if (length === 0 || !isCompact(buf, at) || !definesCerts(buf, at)) return;
    const defs = compactDefs(buf.subarray(at, at + length));
    if (defs !== undefined) for (const d of defs) this.certs.noteDef(d.id, fileOffset);
  }

  /**
   * The common case, in chunks read into one reused buffer: indexes whole records from the start and
   * says whether they fill the file exactly (false at the first damage, the index then partial).
   */
  private hop(fd: number, fileSize: number, verify: boolean, onKey: (log: string, index: number) => void, scratch: { buf: Buffer }): boolean {
    if (scratch.buf.length === 0) scratch.buf = Buffer.allocUnsafe(SCAN_CHUNK_BYTES);
    let buf = scratch.buf;
    let view = buf.subarray(0, 0); // the bytes read, file offsets [bufStart, bufStart + view.length)
    let bufStart = 0;
    let at = 0;
    for (;;) {
      const probe = probeRecord(view, at - bufStart, verify);
      if (probe.kind === 'record') {
        const key = recordKey(view, at - bufStart);
        this.noteSeen(this.endSeq, key.seen);
        this.offsets.push(at);
        onKey(key.log, key.index);
        this.noteDefs(view, at - bufStart, probe.length, at);
        at += probe.length;
        continue;
      }
      if (probe.kind === 'corrupt') return false;
      const readTo = bufStart + view.length;
      if (readTo >= fileSize) return at === fileSize;
      // Keep the unread rest at the front and read on after it (a buffer too small for it grows).
      const rest = readTo - at;
      if (rest * 2 > buf.length) {
        const bigger = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(bigger, 0, at - bufStart, view.length);
        buf = scratch.buf = bigger;
      } else buf.copy(buf, 0, at - bufStart, view.length);
      bufStart = at;
      const n = readSync(fd, buf, rest, Math.min(buf.length - rest, fileSize - readTo), readTo);
      if (n === 0) return false;
      view = buf.subarray(0, rest + n);
    }
  }
}
