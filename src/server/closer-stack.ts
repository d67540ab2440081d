/**
 * What a running server must close, as one stack: each piece that opened something pushes its closer,
 * and a stop (or a start that fails half-way) runs them all, the last pushed first. Every closer runs
 * even when an earlier one failed: a positions file that cannot be written must not keep the window
 * from its final fsync, nor NATS from closing. The failures are logged and returned, so the caller
 * decides which of them make the stop a failed one.
 */
import { describeError } from '../errors.js';
import type { Logger } from '../log/logger.js';

export interface CloseFailure {
  /** The closer's name, as pushed. */
  what: string;
  error: unknown;
}

export class CloserStack {
  private readonly closers: { what: string; close: () => unknown }[] = [];

  constructor(private readonly logger: Logger) {}

  /** Registers `close` (sync or async) under `what`, for the log line when it fails. */
  push(what: string, close: () => unknown): void {
    this.closers.push({ what, close });
  }

  /** Runs every closer once, the last pushed first; resolves with the failures (none: empty). */
  async closeAll(): Promise<CloseFailure[]> {
    const failures: CloseFailure[] = [];
    for (let c = this.closers.pop(); c !== undefined; c = this.closers.pop()) {
      try {
        await c.close();
      } catch (error) {
        this.logger.error(`${c.what} failed`, { error: describeError(error) });
        failures.push({ what: c.what, error });
      }
    }
    return failures;
  }
}
