/**
 * An append-only journal of small records, one JSON line each, beside a snapshot file: a save appends
 * only what changed and fsyncs it, so its cost follows the change, not the whole state. Its owner
 * folds it into the snapshot (and empties it) once it outgrows a multiple of the live state.
 *
 * Crash safety: records are only ever appended, each save with one write and an fsync, so a `kill -9`
 * or a power loss can leave only the last save incomplete — a line without its newline, or bytes the
 * file system extended without filling. Reading stops at the first line that is not a complete valid
 * record and cuts the file there: what is cut is a save that never finished (`fsync` never returned),
 * so nothing that was reported saved is lost.
 */
import { open, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { syncDirectory } from './atomic-file.js';

/** What a journal holds: the records of its complete lines, and where they end. */
export interface JournalContent<R> {
  records: R[];
  /** Bytes of the complete, valid lines (the file is cut here). */
  validBytes: number;
}

/**
 * The records of a journal's bytes, up to the first line that is incomplete (no newline) or that
 * `parse` refuses (returns undefined). Pure.
 */
export function parseJournal<R>(bytes: Buffer, parse: (line: string) => R | undefined): JournalContent<R> {
  const records: R[] = [];
  let start = 0;
  for (;;) {
    const end = bytes.indexOf(0x0a, start);
    if (end < 0) break;
    const record = parse(bytes.toString('utf8', start, end));
    if (record === undefined) break;
    records.push(record);
    start = end + 1;
  }
  return { records, validBytes: start };
}

export class JournalFile {
  /** Bytes in the file (after the cut at load). */
  bytes = 0;
  /** Records in the file. */
  records = 0;
  /** Whether the directory entry is known to be on disk (a new file's is not until the directory is synced). */
  private durableEntry = false;

  constructor(readonly path: string) {}

  /**
   * Reads the journal (missing = empty) and cuts an incomplete tail.
   * @returns the records, and how many bytes were cut
   * @throws the file system's error (the caller wraps it)
   */
  async load<R>(parse: (line: string) => R | undefined): Promise<{ records: R[]; cutBytes: number }> {
    let bytes: Buffer;
    try {
      bytes = await readFile(this.path);
    } catch (err) {
      if ((err as { code?: string }).code !== 'ENOENT') throw err;
      bytes = Buffer.alloc(0);
    }
    const { records, validBytes } = parseJournal(bytes, parse);
    if (validBytes < bytes.length) await this.truncate(validBytes);
    this.durableEntry = bytes.length > 0;
    this.bytes = validBytes;
    this.records = records.length;
    return { records, cutBytes: bytes.length - validBytes };
  }

  /**
   * Appends complete lines (each ending in a newline) with one write, and fsyncs them.
   * @param count records in `lines`
   */
  async append(lines: string, count: number): Promise<void> {
    if (lines.length === 0) return;
    const fh = await open(this.path, 'a', 0o644);
    try {
      const body = Buffer.from(lines);
      await fh.write(body, 0, body.length, null);
      await fh.sync();
      this.bytes += body.length;
      this.records += count;
    } catch (err) {
      // A part of the lines may have reached the file: cut it, or the next save's records would follow
      // an invalid line and be cut at the next load.
      await fh.truncate(this.bytes).catch(() => undefined);
      throw err;
    } finally {
      await fh.close();
    }
    if (!this.durableEntry) {
      await syncDirectory(dirname(this.path));
      this.durableEntry = true;
    }
  }

  /** Empties the journal (its records are in the snapshot now). */
  async clear(): Promise<void> {
    await this.truncate(0);
    this.bytes = 0;
    this.records = 0;
  }

  private async truncate(length: number): Promise<void> {
    const fh = await open(this.path, 'r+');
    try {
      await fh.truncate(length);
      await fh.sync();
    } finally {
      await fh.close();
    }
  }
}
