/**
 * One segment file of the local replay window: consecutive records from `firstSeq` on, named
 * `<firstSeq, 16 digits>.seg`. In memory it keeps only what finding a record needs: the offset of each
 * record (8 bytes per entry) and the points where `seen` changes (one per published batch).
 */
import { closeSync, fstatSync, ftruncateSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { probeRecord, recordKey } from './record-codec.js';

/** `<seq>.seg` with the seq zero-padded so that names sort like numbers. */
export function segmentName(firstSeq: number): string {
  return `${String(firstSeq).padStart(16, '0')}.seg`;
}

/** The first seq of a segment file name, or undefined for any other file. */
export function parseSegmentName(name: string): number | undefined {
  const m = /^(\d{16})\.seg$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

export class Segment {
  /** Byte offset of each record in the file. */
  readonly offsets: number[] = [];
  /** Seqs at which `seen` changes, and the new values (for `since`). */
  readonly seenSeqs: number[] = [];
  readonly seenValues: number[] = [];
  /** File size = end of the last whole record. */
  size = 0;
  readonly path: string;

  constructor(
    dir: string,
    readonly firstSeq: number,
  ) {
    this.path = join(dir, segmentName(firstSeq));
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
  add(length: number, seen: number): void {
    const seq = this.endSeq;
    this.offsets.push(this.size);
    this.size += length;
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
   * Reads the file and indexes its whole records; a torn or corrupt tail is cut off (the file truncated).
   * @param onKey called for every record with its log and index (the window's per-log dedupe)
   * @param verify check every record's CRC (the tail segment, where a kill -9 can leave a torn write;
   *   closed segments were fsync'ed whole, and skipping the CRC keeps a large window quick to open)
   * @returns the number of bytes cut off (0 when the file was whole)
   */
  scan(onKey: (log: string, index: number) => void, verify = true): number {
    const fd = openSync(this.path, 'r+');
    try {
      const fileSize = fstatSync(fd).size;
      const chunk = 8 * 1024 * 1024;
      let buf = Buffer.alloc(0);
      let bufStart = 0; // file offset of buf[0]
      let at = 0; // file offset of the next record
      let readTo = 0;
      for (;;) {
        const probe = probeRecord(buf, at - bufStart, verify);
        if (probe.kind === 'record') {
          const key = recordKey(buf, at - bufStart);
          this.add(probe.length, key.seen);
          onKey(key.log, key.index);
          at += probe.length;
          continue;
        }
        if (probe.kind === 'corrupt' || readTo >= fileSize) break;
        // Keep the unread rest and append the next chunk (a record may be larger than a chunk).
        const rest = buf.subarray(at - bufStart);
        const want = Math.max(chunk, rest.length * 2);
        const next = Buffer.allocUnsafe(Math.min(want, rest.length + fileSize - readTo));
        rest.copy(next);
        const n = readSync(fd, next, rest.length, next.length - rest.length, readTo);
        readTo += n;
        buf = next.subarray(0, rest.length + n);
        bufStart = at;
        if (n === 0) break;
      }
      const cut = fileSize - at;
      if (cut > 0) ftruncateSync(fd, at);
      this.size = at;
      return cut;
    } finally {
      closeSync(fd);
    }
  }
}
