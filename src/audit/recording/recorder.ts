/**
 * `certaudit record` without the CLI: follows one feed and writes every event it produces to a
 * recording (NDJSON, flushed at least every second).
 */
import type { FeedEvent } from '../feeds/feed-event.js';
import type { FeedSource } from '../feeds/feed-source.js';
import { RecordingWriter } from './recording-writer.js';

/** Options of Recorder.start. */
export interface RecorderOptions {
  source: FeedSource;
  /** Output file (created or truncated). */
  out: string;
  /** Clock, ms since the epoch (default Date.now). */
  now?: () => number;
  /** Sees every event after it was queued for writing (status line, tests). */
  onEvent?: (e: FeedEvent) => void;
  /** Flush interval in ms (default 1_000). */
  flushIntervalMs?: number;
}

export class Recorder {
  private constructor(
    private readonly opts: RecorderOptions,
    private readonly writer: RecordingWriter,
    private readonly now: () => number,
  ) {}

  /** Entry events written so far. */
  entries = 0;

  /** Opens the file, writes the `start` line and starts following the feed. */
  static async start(options: RecorderOptions): Promise<Recorder> {
    const now = options.now ?? Date.now;
    const writer = await RecordingWriter.open(options.out, {
      feed: options.source.url,
      startMs: now(),
      ...(options.flushIntervalMs !== undefined ? { flushIntervalMs: options.flushIntervalMs } : {}),
    });
    const r = new Recorder(options, writer, now);
    options.source.start((e) => {
      writer.write(e);
      if (e.ev === 'entry') r.entries++;
      options.onEvent?.(e);
    });
    return r;
  }

  /** True once the feed has been connected at least once. */
  get everConnected(): boolean {
    return this.opts.source.everConnected;
  }

  /** Stops the feed, writes the `end` line and closes the file. */
  async stop(): Promise<void> {
    await this.opts.source.stop();
    await this.writer.close(this.now());
  }
}
