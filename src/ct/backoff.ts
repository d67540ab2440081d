/**
 * Retry timing: exponential backoff with full jitter, capped, and the HTTP Retry-After header in both
 * of its forms (RFC 9110 §10.2.3: delta-seconds or an HTTP-date). Pure except for the injectable random.
 */

/** Backoff settings. */
export interface BackoffOptions {
  /** First delay in ms (default 500). */
  baseMs?: number;
  /** Upper bound of any delay in ms (default 60_000). */
  maxMs?: number;
  /** Random source in [0, 1) (default Math.random), injectable for tests. */
  random?: () => number;
}

/**
 * Delay before retry number `attempt` (1 = first retry): a uniform value in
 * [d/2, d] with d = min(maxMs, baseMs * 2^(attempt-1)). Half jitter keeps retries spread without
 * collapsing to zero.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const base = options.baseMs ?? 500;
  const max = options.maxMs ?? 60_000;
  const random = options.random ?? Math.random;
  const d = Math.min(max, base * 2 ** Math.min(Math.max(attempt - 1, 0), 30));
  return Math.round(d / 2 + (random() * d) / 2);
}

/**
 * Parses a Retry-After header value into a delay in ms from `now` (ms epoch).
 * Returns undefined when absent or unparseable; a date in the past gives 0.
 */
export function parseRetryAfter(header: string | null | undefined, now: number): number | undefined {
  if (header === null || header === undefined) return undefined;
  const v = header.trim();
  if (v === '') return undefined;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  // An HTTP-date always names a weekday and GMT (IMF-fixdate, or the obsolete RFC 850/asctime forms).
  if (!/[a-z]{3}/i.test(v)) return undefined;
  const t = Date.parse(v);
  if (Number.isNaN(t)) return undefined;
  return Math.max(0, t - now);
}

/**
 * Waits `ms`, or less when `signal` aborts (then resolves early; callers check `signal.aborted`).
 * Never rejects, so a stopping follower just falls through its loop.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
