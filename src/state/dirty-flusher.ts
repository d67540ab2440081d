/**
 * The write schedule of a small state file kept in memory: changes mark it dirty; a timer writes it at
 * most once per period while dirty, `flush()` writes it now, `close()` stops the timer and writes a
 * last time. Writes never overlap. A failed write leaves it dirty, so the next flush retries.
 */
export class DirtyFlusher {
  private dirty = false;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();

  /** `write` saves the current state; it is only called while dirty, one call at a time. */
  constructor(private readonly write: () => Promise<void>) {}

  markDirty(): void {
    this.dirty = true;
  }

  /** Starts the periodic flush (an unref'd timer); `onError` gets the failures of timer-driven writes. */
  start(periodMs: number, onError: (err: unknown) => void): void {
    this.timer = setInterval(() => {
      if (this.dirty) this.flush().catch(onError);
    }, periodMs);
    this.timer.unref();
  }

  /** Writes now when dirty; concurrent calls are serialised. */
  flush(): Promise<void> {
    // Chain on the previous write's settlement, not its success: after one failed write every later
    // flush (timer and close) would otherwise re-throw that old error without writing.
    this.writing = this.writing.catch(() => undefined).then(() => (this.dirty ? this.writeNow() : undefined));
    return this.writing;
  }

  /** Stops the timer and flushes. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  private async writeNow(): Promise<void> {
    this.dirty = false;
    try {
      await this.write();
    } catch (err) {
      this.dirty = true;
      throw err;
    }
  }
}
