/**
 * Consumer pacing of the ingest (interface.md, "Lossless delivery"): a catch-up never outruns the
 * fastest connected plain client. The ingest asks for room before it hands on a window of entries; it
 * waits while every plain client is over half its budget, and is let go — one waiting follower at a time,
 * since each hands on a whole window — when one has room again (its socket drained, it left, the hub
 * flushed), when the hub closes, or after the slow-client timeout (a client that takes nothing stops
 * pacing: it drops frames and is closed as slow, as without pacing).
 */
export interface IngestPacingOptions {
  /** True when the ingest may hand on entries now (no plain client, or one with room). */
  hasRoom: () => boolean;
  /** How long one wait lasts at most, ms. */
  slowClientTimeoutMs: number;
}

export class IngestPacing {
  private waiters: (() => void)[] = [];
  private closed = false;

  constructor(private readonly options: IngestPacingOptions) {}

  /** Undefined when the ingest may go on now, else a promise that resolves once it may. */
  room(): Promise<void> | undefined {
    if (this.closed || this.options.hasRoom()) return undefined;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(done);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve();
      }, this.options.slowClientTimeoutMs);
      timer.unref();
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.waiters.push(done);
    });
  }

  /** Something changed (a flush, a drain, a client left): lets one waiting follower go when there is room. */
  wake(): void {
    if (this.waiters.length === 0) return;
    if (this.closed) for (const resolve of this.waiters.splice(0)) resolve();
    else if (this.options.hasRoom()) this.waiters.shift()!();
  }

  /** The hub closes: every waiter goes, and nobody waits again. */
  close(): void {
    this.closed = true;
    this.wake();
  }
}
