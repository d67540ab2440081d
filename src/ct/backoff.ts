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
  const t = parseHttpDate(v);
  return t === undefined ? undefined : Math.max(0, t - now);
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAY = '(?:mon|tue|wed|thu|fri|sat|sun)';
const MON = '(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)';
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';
const IMF_FIXDATE = new RegExp(`^${DAY}, (\\d{2}) ${MON} (\\d{4}) ${TIME} GMT$`, 'i');
const RFC850_DATE = new RegExp(`^${DAY}[a-z]*, (\\d{2})-${MON}-(\\d{2}) ${TIME} GMT$`, 'i');
const ASCTIME_DATE = new RegExp(`^${DAY} ${MON} ([ \\d]\\d) ${TIME} (\\d{4})$`, 'i');

/**
 * The three HTTP-date forms of RFC 9110 §5.6.7, all in UTC, as ms since the epoch. Matched strictly:
 * Date.parse alone reads garbage such as "soon 5" as a date and the asctime form as local time.
 */
function parseHttpDate(v: string): number | undefined {
  let m: RegExpExecArray | null;
  let day: string, mon: string, year: number, hh: string, mm: string, ss: string;
  if ((m = IMF_FIXDATE.exec(v))) {
    [, day, mon, , hh, mm, ss] = m;
    year = Number(m[3]);
  } else if ((m = RFC850_DATE.exec(v))) {
    [, day, mon, , hh, mm, ss] = m;
    // Two-digit years: the RFC 9110 rule (not more than 50 years ahead) around the year 2000.
    year = Number(m[3]) + (Number(m[3]) < 50 ? 2000 : 1900);
  } else if ((m = ASCTIME_DATE.exec(v))) {
    [, mon, day, hh, mm, ss] = m;
    year = Number(m[6]);
  } else {
    return undefined;
  }
  const month = MONTHS.indexOf(mon.toLowerCase());
  const t = Date.UTC(year, month, Number(day), Number(hh), Number(mm), Number(ss));
  const d = new Date(t);
  // Reject out-of-range fields (Feb 30, 25:00) that Date.UTC would silently roll over.
  if (d.getUTCDate() !== Number(day) || d.getUTCHours() !== Number(hh) || d.getUTCMinutes() !== Number(mm) ||
      d.getUTCSeconds() !== Number(ss)) {
    return undefined;
  }
  return t;
}

/**
 * Resolves when `promise` settles or `signal` aborts, whichever comes first, and never rejects; the
 * abort listener is removed either way (a loop that waits many times on one long-lived signal must not
 * pile up listeners).
 */
export function untilSettledOrAborted(promise: Promise<unknown>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      signal.removeEventListener('abort', done);
      resolve();
    };
    signal.addEventListener('abort', done, { once: true });
    promise.then(done, done);
  });
}

/**
 * Waits `ms`, or less when `signal` aborts (then resolves early; callers check `signal.aborted`).
 * Never rejects, so a stopping follower just falls through its loop. The abort listener is removed
 * when the time is up.
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
