/**
 * Where the ingest hands its entries: each one is rendered once (three frames), counted by update type,
 * and the batch is published to the fan-out hub.
 *
 * This is also the one place of the skip-and-count policy: an entry that cannot be decoded or rendered
 * (its leaf is not a certificate) is skipped, counted as a `parse` error of its log, and logged at most
 * once per log per `logIntervalMs` with the number of skips in between. A log whose entries keep failing
 * stays visible: per log, the sink remembers how many of the last `window` entries were skipped (shown
 * in `/healthz`, see `renderHealth`), so a log streaming nothing but undecodable entries is not
 * reported healthy.
 */
import type { EntrySink, LogDescriptor, SinkEntry } from '../ct/types.js';
import { describeError, isCertstreamError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { RateLimitedLog } from '../log/rate-limited.js';
import type { ServerMetrics } from '../metrics/server-metrics.js';
import type { Renderer } from '../render/renderer.js';
import type { FanoutHub, StreamFrames } from './fanout-hub.js';

/** A log's skipped entries, for `/healthz`. */
export interface RenderHealth {
  /** Entries skipped since start. */
  skipped: number;
  /** How many of the log's latest entries the window holds (at most `window`). */
  recentEntries: number;
  /** How many of those were skipped. */
  recentSkipped: number;
  /** The last skip's reason, one line. */
  lastError: string | null;
}

export interface IngestSinkOptions {
  renderer: Renderer;
  hub: Pick<FanoutHub, 'publish'>;
  metrics: ServerMetrics;
  logger: Logger;
  /** At most one "entry skipped" line per log per this many ms (default 60_000). */
  logIntervalMs?: number;
  /** How many of a log's latest entries the skip ratio is judged on (default 256). */
  window?: number;
  /** Clock, epoch ms (tests). Default Date.now. */
  now?: () => number;
}

/** Per log: the outcome of its latest entries (1 = skipped), as a ring. */
class SkipWindow {
  private readonly ring: Uint8Array;
  private pos = 0;
  size = 0;
  skippedInRing = 0;
  total = 0;
  lastError: string | null = null;

  constructor(capacity: number) {
    this.ring = new Uint8Array(capacity);
  }

  record(skipped: boolean): void {
    if (this.size === this.ring.length) this.skippedInRing -= this.ring[this.pos];
    else this.size++;
    this.ring[this.pos] = skipped ? 1 : 0;
    if (skipped) {
      this.skippedInRing++;
      this.total++;
    }
    this.pos = (this.pos + 1) % this.ring.length;
  }
}

export class IngestSink {
  private readonly logs = new Map<string, SkipWindow>();
  private readonly skipLog: RateLimitedLog;
  private readonly window: number;
  private readonly now: () => number;

  constructor(private readonly options: IngestSinkOptions) {
    this.window = options.window ?? 256;
    if (!Number.isInteger(this.window) || this.window < 1) throw new RangeError(`window must be a positive integer, got ${this.window}`);
    this.now = options.now ?? Date.now;
    this.skipLog = new RateLimitedLog(options.logger, { intervalMs: options.logIntervalMs ?? 60_000, now: this.now });
  }

  /** The ingest's EntrySink: decoded entries, and undecodable ones in their place. */
  readonly accept: EntrySink = (log, entries) => this.take(log, entries);

  /** A log's skip counts, or undefined when it has delivered nothing yet. */
  renderHealth(url: string): RenderHealth | undefined {
    const w = this.logs.get(url);
    if (w === undefined) return undefined;
    return { skipped: w.total, recentEntries: w.size, recentSkipped: w.skippedInRing, lastError: w.lastError };
  }

  /** Forgets a log that is no longer followed. */
  forget(url: string): void {
    this.logs.delete(url);
    this.skipLog.reset(url);
  }

  private take(log: LogDescriptor, entries: readonly SinkEntry[]): void {
    const { renderer, metrics } = this.options;
    const seen = this.now() / 1000;
    const frames: StreamFrames[] = [];
    let window = this.logs.get(log.url);
    if (window === undefined) this.logs.set(log.url, (window = new SkipWindow(this.window)));
    let x509 = 0;
    let precert = 0;
    for (const entry of entries) {
      if ('error' in entry) {
        this.skip(log, window, entry.index, entry.error, 'cannot decode it');
        continue;
      }
      try {
        const f = renderer.render(log, entry, seen);
        // With its identity: the replay window stores each (log, index) once and replays by `seen`; and
        // with the renderer's parts of the frames, from which it stores the entry compactly.
        frames.push({ lite: f.lite, full: f.full, domains: f.domains, log: log.url, index: entry.index, seen, parts: f.parts });
      } catch (err) {
        this.skip(log, window, entry.index, err, 'cannot render it');
        continue;
      }
      window.record(false);
      if (entry.type === 'x509') x509++;
      else precert++;
    }
    if (x509 > 0) metrics.entries.inc({ log: log.url, update_type: 'X509LogEntry' }, x509);
    if (precert > 0) metrics.entries.inc({ log: log.url, update_type: 'PrecertLogEntry' }, precert);
    this.options.hub.publish(frames);
  }

  private skip(log: LogDescriptor, window: SkipWindow, index: number, err: unknown, why: string): void {
    window.record(true);
    window.lastError = `entry ${index}: ${describeError(err)}`;
    this.options.metrics.logErrors.inc({ log: log.url, kind: 'parse' });
    // A leaf that is not a certificate is the log's data, not our bug: a warning. Anything else an error.
    const expected = isCertstreamError(err, 'X509_ERR_NOT_A_CERT', 'X509_ERR_BAD_DER', 'CT_ERR_BAD_LEAF');
    this.skipLog.log(expected ? 'warn' : 'error', log.url, `entry skipped: ${why}`, {
      log: log.url,
      cert_index: index,
      error: describeError(err),
      skipped_total: window.total,
    });
  }
}
