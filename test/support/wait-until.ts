/** Polls `check` until it returns a value other than undefined/false, or fails after `ms` naming `what`. */
export async function waitUntil<T>(what: string, ms: number, check: () => T | undefined | false | Promise<T | undefined | false>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Conditions re-checked on events (a frame arrived, a socket closed) rather than polled: `until`
 * resolves once `cond` holds after some `notify()`, or rejects after `ms` naming `what` (and `detail()`).
 */
export class ConditionWaiters {
  private waiters: (() => void)[] = [];

  until(what: string, ms: number, cond: () => boolean, detail: () => string = () => ''): Promise<void> {
    if (cond()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what} ${detail()}`.trimEnd())), ms);
      const check = () => {
        if (cond()) {
          clearTimeout(timer);
          resolve();
        } else this.waiters.push(check);
      };
      this.waiters.push(check);
    });
  }

  /** Something changed: re-check every pending condition. */
  notify(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}
