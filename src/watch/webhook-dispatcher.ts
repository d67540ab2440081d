/**
 * Delivers the pending webhook rows of the store: a JSON POST per new match to every --webhook URL.
 * The pending rows are the queue (the runner writes them in the transaction that stores the match), so
 * nothing is held only in memory and a restart resumes where the last one stopped.
 *
 * Per URL, deliveries go out in order, one at a time; the first failure (non-2xx, timeout, connection
 * error) blocks that URL for a backoff delay — exponential with jitter, capped at `maxBackoffMs`,
 * honouring Retry-After — so a dead endpoint costs one request per delay, never a tight loop, and
 * other URLs go on. Failures are counted in `certwatch_webhook_failures_total` and logged when a URL
 * starts failing, then at most once a minute while it keeps failing, and when it recovers.
 */
import { backoffDelay, parseRetryAfter } from '../ct/backoff.js';
import { describeError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { VERSION } from '../version.js';
import type { Delivery, WatchStore } from './store.js';
import type { WatchMetrics } from './watch-metrics.js';
import { webhookBody } from './webhook-body.js';

/** Settings of a WebhookDispatcher. */
export interface WebhookDispatcherOptions {
  store: WatchStore;
  urls: readonly string[];
  metrics: WatchMetrics;
  logger: Logger;
  /** Deadline of one POST in ms (default 10_000). */
  timeoutMs?: number;
  /** First retry delay in ms (default 1_000). */
  baseBackoffMs?: number;
  /** Longest retry delay in ms (default 300_000). */
  maxBackoffMs?: number;
  /** Clock in ms (default Date.now). */
  now?: () => number;
}

interface UrlState {
  failures: number;
  blockedUntil: number;
  lastLogged: number;
  suppressed: number;
}

export class WebhookDispatcher {
  private readonly o: Required<Omit<WebhookDispatcherOptions, 'now'>>;
  private readonly now: () => number;
  private readonly state = new Map<string, UrlState>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(options: WebhookDispatcherOptions) {
    this.o = { timeoutMs: 10_000, baseBackoffMs: 1_000, maxBackoffMs: 300_000, ...options };
    this.now = options.now ?? Date.now;
    for (const u of options.urls) this.state.set(u, { failures: 0, blockedUntil: 0, lastLogged: 0, suppressed: 0 });
  }

  /**
   * Starts delivering what is pending (from an earlier run too). Rows pending for a URL that is no
   * longer configured are kept (it may come back) and said so in the log, never dropped silently.
   */
  start(): void {
    void this.o.store.pendingByUrl().then(
      (pending) => {
        for (const [url, n] of pending) {
          if (!this.o.urls.includes(url)) this.o.logger.warn('deliveries pending for a webhook URL that is not configured', { url, pending: n });
        }
      },
      (err: unknown) => this.o.logger.error('reading pending deliveries failed', { error: describeError(err) }),
    );
    this.kick();
  }

  /** New deliveries may be pending: run a round now (or right after the current one). */
  kick(): void {
    if (this.stopped || this.o.urls.length === 0) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.running = this.round()
      .catch((err: unknown) => {
        // A database error: logged, and retried after a short pause (the rows are still pending).
        this.o.logger.error('webhook dispatch failed', { error: describeError(err) });
        this.schedule(this.now() + 5_000);
      })
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  private schedule(at: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.kick();
    }, Math.max(0, at - this.now()));
  }

  private async round(): Promise<void> {
    const { store } = this.o;
    while (!this.stopped) {
      const now = this.now();
      const open = this.o.urls.filter((u) => this.state.get(u)!.blockedUntil <= now);
      const due = await store.dueDeliveries(open, now / 1000, 100);
      if (due.length === 0) break;
      const byUrl = new Map<string, Delivery[]>();
      for (const d of due) {
        if (!byUrl.has(d.url)) byUrl.set(d.url, []);
        byUrl.get(d.url)!.push(d);
      }
      await Promise.all([...byUrl.values()].map((list) => this.deliverInOrder(list)));
    }
    this.o.metrics.webhookPending.set(await store.pendingCount());
    // Sleep until the next row is due on a URL that is not blocked (a blocked URL's rows wait for it).
    let at = Infinity;
    for (const url of this.o.urls) {
      const due = await store.nextDue([url]);
      if (due !== undefined) at = Math.min(at, Math.max(due * 1000, this.state.get(url)!.blockedUntil));
    }
    if (at !== Infinity) this.schedule(Math.max(at, this.now() + 10));
  }

  /** Delivers one URL's due rows in order, stopping at the first failure. */
  private async deliverInOrder(list: Delivery[]): Promise<void> {
    for (const d of list) {
      if (this.stopped) return;
      if (!(await this.deliver(d))) return;
    }
  }

  private async deliver(d: Delivery): Promise<boolean> {
    const s = this.state.get(d.url)!;
    const body = webhookBody(d.match);
    let error: string | undefined;
    let retryAfter: number | undefined;
    try {
      const res = await fetch(d.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': body.id, 'user-agent': `certstream-watch/${VERSION}` },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.o.timeoutMs),
        redirect: 'error',
      });
      // The body is not needed; reading it frees the connection for the next POST.
      await res.arrayBuffer().catch(() => undefined);
      if (res.status >= 200 && res.status < 300) {
        await this.o.store.markDelivered(d.matchId, d.url, this.now() / 1000);
        this.o.metrics.webhookDeliveries.inc();
        if (s.failures > 0) this.o.logger.info('webhook recovered', { url: d.url, failures: s.failures });
        s.failures = 0;
        return true;
      }
      error = `HTTP ${res.status}`;
      retryAfter = parseRetryAfter(res.headers.get('retry-after'), this.now());
    } catch (err) {
      error = describeError(err);
    }
    s.failures++;
    this.o.metrics.webhookFailures.inc();
    const delay = Math.max(retryAfter ?? 0, backoffDelay(s.failures, { baseMs: this.o.baseBackoffMs, maxMs: this.o.maxBackoffMs }));
    s.blockedUntil = this.now() + Math.min(delay, this.o.maxBackoffMs);
    await this.o.store.markFailed(d.matchId, d.url, d.attempts + 1, s.blockedUntil / 1000, error);
    this.logFailure(d.url, s, error);
    return false;
  }

  /** First failure logged at once, then at most one line a minute per URL with the count in between. */
  private logFailure(url: string, s: UrlState, error: string): void {
    const now = this.now();
    if (s.failures === 1 || now - s.lastLogged >= 60_000) {
      this.o.logger.warn('webhook failing', {
        url, error, consecutive_failures: s.failures, suppressed: s.suppressed,
        retry_in_seconds: Math.round((s.blockedUntil - now) / 1000),
      });
      s.lastLogged = now;
      s.suppressed = 0;
    } else s.suppressed++;
  }

  /** Stops: no new rounds; waits for the POSTs in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
