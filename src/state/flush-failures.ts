/**
 * How a store of saved positions reports its failed writes: each one counted (a metric and the health
 * body's `errors`), logged at most once a minute while they go on, and the recovery logged once.
 */
import { describeError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { RateLimitedLog } from '../log/rate-limited.js';
import type { WriteOutcome } from './saved-map.js';

/** Whether a store's values are being saved (for /healthz). */
export interface FlushHealth {
  /** Why the last write failed, one line; null when it succeeded (or none was needed yet). */
  lastError: string | null;
  /** Failed writes since start. */
  errors: number;
}

export interface FlushFailuresOptions {
  /** Where the lines go; none: failures are only counted. */
  logger?: Logger;
  /** The error line, written at most once a minute while writes fail. */
  failedMessage: string;
  /** The line written once when a write succeeds after failures; none: no line. */
  recoveredMessage?: string;
  /** Fields added to both lines (the file's path…). */
  fields?: Record<string, unknown>;
  /** Counts every failed write (certstream_cursor_flush_errors_total). */
  counter?: { inc(): void };
}

export class FlushFailures implements WriteOutcome {
  private lastError: string | null = null;
  private errors = 0;
  private readonly log: RateLimitedLog | undefined;

  constructor(private readonly options: FlushFailuresOptions) {
    if (options.logger) this.log = new RateLimitedLog(options.logger);
  }

  health(): FlushHealth {
    return { lastError: this.lastError, errors: this.errors };
  }

  failed(error: Error): void {
    this.errors++;
    this.lastError = describeError(error);
    this.options.counter?.inc();
    this.log?.log('error', 'flush', this.options.failedMessage, { ...this.options.fields, error: this.lastError, failures: this.errors });
  }

  succeeded(): void {
    if (this.lastError === null) return;
    if (this.options.recoveredMessage !== undefined) this.options.logger?.info(this.options.recoveredMessage, { ...this.options.fields, failures: this.errors });
    this.log?.reset('flush');
    this.lastError = null;
  }
}
