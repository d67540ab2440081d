/**
 * What a benchmark run started (servers, client processes, nats-server, the fake log), stopped in reverse
 * order whether the run finished or failed, so that a failed run leaves no process behind.
 */
export class Stack {
  private readonly undo: (() => Promise<unknown> | void)[] = [];
  add(fn: () => Promise<unknown> | void): void {
    this.undo.push(fn);
  }
  async close(): Promise<void> {
    for (const fn of this.undo.reverse()) {
      try {
        await fn();
      } catch (err) {
        process.stderr.write(`bench: cleanup: ${(err as Error).message}\n`);
      }
    }
  }
}

