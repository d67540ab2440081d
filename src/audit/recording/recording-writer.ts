/**
 * Writes a `certaudit record` file: FeedEvents as NDJSON (format in feed-event.ts). Lines are buffered
 * in memory and appended to the file at least every `flushIntervalMs` (default 1 s), so a crash loses
 * at most the last second; `close()` writes the `end` line and flushes the rest.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { CertstreamError } from '../../errors.js';
import { encodeEvent, type FeedEvent, RECORDING_VERSION } from '../feeds/feed-event.js';

/** Options of RecordingWriter.open. */
export interface RecordingWriterOptions {
  /** Feed URL written in the `start` line. */
  feed: string;
  /** Time of the `start` line, ms since the epoch. */
  startMs: number;
  /** Longest time a line stays in memory, in ms (default 1_000). */
  flushIntervalMs?: number;
  /** Flush early once this many bytes are buffered (default 1 MiB). */
  maxBufferBytes?: number;
}

export class RecordingWriter {
  private readonly fh: FileHandle;
  private readonly path: string;
  private readonly maxBuffer: number;
  private buffer: string[] = [];
  private buffered = 0;
  private writing: Promise<void> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;
  private failure: unknown;
  /** Events written (start and end lines included). */
  lines = 0;

  private constructor(fh: FileHandle, path: string, options: RecordingWriterOptions) {
    this.fh = fh;
    this.path = path;
    this.maxBuffer = options.maxBufferBytes ?? 1024 * 1024;
    // A failed periodic flush is remembered and reported by the next flush() or close().
    this.timer = setInterval(() => this.flush().catch(() => undefined), options.flushIntervalMs ?? 1_000);
    this.timer.unref();
  }

  /**
   * Creates (or truncates) `path` and writes the `start` line.
   * @throws CertstreamError STATE_ERR_IO when the file cannot be opened
   */
  static async open(path: string, options: RecordingWriterOptions): Promise<RecordingWriter> {
    let fh: FileHandle;
    try {
      fh = await open(path, 'w');
    } catch (err) {
      throw new CertstreamError('STATE_ERR_IO', `cannot write recording ${path}`, { cause: err });
    }
    const w = new RecordingWriter(fh, path, options);
    w.write({ ev: 'start', t: options.startMs, feed: options.feed, v: RECORDING_VERSION });
    await w.flush();
    return w;
  }

  /** Queues one event. */
  write(e: FeedEvent): void {
    const line = encodeEvent(e);
    this.buffer.push(line);
    this.buffered += line.length;
    this.lines++;
    if (this.buffered >= this.maxBuffer) this.flush().catch(() => undefined);
  }

  /**
   * Appends everything buffered so far; resolves when it is in the file. Writes are serialised.
   * @throws CertstreamError STATE_ERR_IO when a write failed (also on later calls)
   */
  flush(): Promise<void> {
    if (this.buffer.length > 0) {
      const chunk = this.buffer.join('');
      this.buffer = [];
      this.buffered = 0;
      this.writing = this.writing.then(async () => {
        if (this.failure) return;
        try {
          await this.fh.write(chunk);
        } catch (err) {
          this.failure = err;
        }
      });
    }
    return this.writing.then(() => {
      if (this.failure) throw new CertstreamError('STATE_ERR_IO', `writing recording ${this.path}`, { cause: this.failure });
    });
  }

  /** Writes the `end` line at `endMs`, flushes, syncs and closes the file. */
  async close(endMs: number): Promise<void> {
    clearInterval(this.timer);
    this.write({ ev: 'end', t: endMs });
    try {
      await this.flush();
      await this.fh.sync();
    } finally {
      await this.fh.close();
    }
  }
}
