/**
 * Every wait in the audit tests has a deadline, so a broken build fails with a message naming what
 * never happened instead of hanging the suite. The default is generous: the machine running the
 * suite is shared and spawned CLIs start slowly under load.
 */

/** Default deadline of a wait, ms. */
export const WAIT_MS = 30_000;

/** Resolves as `p` does, or rejects with "timed out after N ms waiting for <what>". */
export function withDeadline<T>(p: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([p, expired]).finally(() => clearTimeout(timer));
}

/**
 * Re-checks `check` every `everyMs` until it holds; rejects once `ms` have passed.
 * @param what names the awaited condition (a function: evaluated at the deadline, e.g. to show the last value)
 */
export async function pollUntil(
  check: () => boolean | Promise<boolean>,
  what: string | (() => string),
  ms = WAIT_MS,
  everyMs = 25,
): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() >= deadline) throw new Error(`timed out after ${ms} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
