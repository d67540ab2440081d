/**
 * Delivers the pending rows of the store to their targets (webhook URLs, hook executables). The
 * pending rows are the queue (the runner writes them in the transaction that stores the match), so
 * nothing is held only in memory and a restart resumes where the last one stopped.
 *
 * Each target has its own queue, an independent loop: a slow, hanging or failing target delays only
 * its own deliveries (each attempt is bounded by the target: delivery-target.ts). Within a target,
 * deliveries go out in match order, one at a time; a failure (non-2xx, timeout, connection error, hook
 * exit status) blocks that target for a backoff delay — exponential with jitter, capped at
 * `maxBackoffMs`, honouring Retry-After — then the same delivery is tried again.
 *
 * A delivery is given up — a **dead letter**: kept in the store with its last error, counted in
 * `certwatch_dead_letters_total`, logged once — when it is refused permanently (HTTP 4xx other than
 * 408/429) or still fails `maxAgeMs` after its match was recorded. The queue then goes on with the
 * next delivery: a dead letter never blocks the ones after it.
 *
 * Failures are counted per attempt and logged when a target starts failing, then at most once a minute
 * while it keeps failing, and when it recovers. `stop` aborts the attempts in flight (they stay pending).
 */
import { backoffDelay } from '../ct/backoff.js';
import { describeError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { DeliveryTarget } from './delivery-target.js';
import { redactUrl } from './redact.js';
import type { Delivery, WatchStore } from './store.js';
import type { WatchMetrics } from './watch-metrics.js';

/** Settings of a DeliveryDispatcher. */
export interface DeliveryDispatcherOptions {
  store: WatchStore;
  targets: readonly DeliveryTarget[];
  metrics: WatchMetrics;
  logger: Logger;
  /** First retry delay in ms (default 1_000). */
  baseBackoffMs?: number;
  /** Longest retry delay in ms (default 300_000). */
  maxBackoffMs?: number;
  /** How long a delivery is retried, from the recording of its match, in ms (default 86_400_000). */
  maxAgeMs?: number;
  /** Clock in ms (default Date.now). */
  now?: () => number;
}

/** One target's queue. */
class TargetQueue {
  failures = 0;
  lastLogged = 0;
  suppressed = 0;
  /** Set by `kick` so that a loop about to sleep looks again first. */
  kicked = false;
  wake: (() => void) | undefined;
  readonly stop = new AbortController();
  loop: Promise<void> = Promise.resolve();
  constructor(readonly target: DeliveryTarget) {}
}

export class DeliveryDispatcher {
  private readonly o: Required<Omit<DeliveryDispatcherOptions, 'now'>>;
  private readonly now: () => number;
  private readonly queues: TargetQueue[];
  private stopped = false;
  private pendingAt = 0;
  private pendingTimer: NodeJS.Timeout | undefined;

  constructor(options: DeliveryDispatcherOptions) {
    this.o = { baseBackoffMs: 1_000, maxBackoffMs: 300_000, maxAgeMs: 86_400_000, ...options };
    this.now = options.now ?? Date.now;
    this.queues = options.targets.map((t) => new TargetQueue(t));
  }

  /** The store keys of the targets, for `record`. */
  get keys(): string[] {
    return this.queues.map((q) => q.target.key);
  }

  /**
   * Starts delivering what is pending (from an earlier run too). Rows pending for a target that is no
   * longer configured are kept (it may come back) and said so in the log, never dropped silently.
   */
  start(): void {
    void this.o.store.pendingByUrl().then(
      (pending) => {
        for (const [key, n] of pending) {
          if (!this.keys.includes(key)) this.o.logger.warn('deliveries pending for a target that is not configured', { target: redactUrl(key), pending: n });
        }
        this.o.metrics.webhookPending.set([...pending.values()].reduce((a, b) => a + b, 0));
      },
      (err: unknown) => this.o.logger.error('reading pending deliveries failed', { error: redactUrl(describeError(err)) }),
    );
    for (const q of this.queues) q.loop = this.run(q);
  }

  /** New deliveries may be pending: every idle queue looks now. */
  kick(): void {
    this.refreshPending();
    for (const q of this.queues) {
      q.kicked = true;
      q.wake?.();
    }
  }

  /** Waits `ms` (Infinity: until kicked), or less when kicked (if `kickable`) or stopped. */
  private sleep(q: TargetQueue, ms: number, kickable: boolean): Promise<void> {
    if (this.stopped || (kickable && q.kicked)) return Promise.resolve();
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        clearTimeout(timer);
        q.wake = undefined;
        q.stop.signal.removeEventListener('abort', done);
        resolve();
      };
      if (Number.isFinite(ms)) timer = setTimeout(done, Math.max(0, Math.min(ms, 2 ** 31 - 1)));
      if (kickable) q.wake = done;
      q.stop.signal.addEventListener('abort', done, { once: true });
    });
  }

  private async run(q: TargetQueue): Promise<void> {
    const { store, logger } = this.o;
    while (!this.stopped) {
      q.kicked = false;
      let due: Delivery[];
      try {
        due = await store.dueDeliveries([q.target.key], this.now() / 1000, 100);
        if (due.length === 0) {
          const next = await store.nextDue([q.target.key]);
          this.refreshPending();
          await this.sleep(q, next === undefined ? Infinity : next * 1000 - this.now(), true);
          continue;
        }
      } catch (err) {
        // A database error: logged, and retried after a short pause (the rows are still pending).
        logger.error('delivery dispatch failed', { target: q.target.label, error: redactUrl(describeError(err)) });
        await this.sleep(q, 5_000, false);
        continue;
      }
      for (const d of due) {
        if (this.stopped) return;
        let retryAt: number | undefined;
        try {
          retryAt = await this.attempt(q, d);
        } catch (err) {
          logger.error('delivery dispatch failed', { target: q.target.label, error: redactUrl(describeError(err)) });
          retryAt = this.now() + 5_000;
        }
        if (retryAt !== undefined) {
          await this.sleep(q, retryAt - this.now(), false);
          break;
        }
      }
      this.refreshPending();
    }
  }

  /** One attempt at `d`; returns when to try that target again if it must wait, else undefined (go on). */
  private async attempt(q: TargetQueue, d: Delivery): Promise<number | undefined> {
    const { store, metrics, logger } = this.o;
    const t = q.target;
    const r = await t.send(d.match, q.stop.signal);
    if (this.stopped) return undefined; // interrupted: it stays pending for the next run
    const now = this.now();
    const attempts = d.attempts + 1;
    if (r.ok) {
      await store.markDelivered(d.matchId, t.key, now / 1000);
      if (t.kind === 'webhook') metrics.webhookDeliveries.inc();
      else metrics.hookDeliveries.inc();
      if (q.failures > 0) logger.info(`${t.kind} recovered`, { target: t.label, failures: q.failures });
      q.failures = 0;
      return undefined;
    }
    const error = redactUrl(r.error);
    q.failures++;
    if (t.kind === 'webhook') metrics.webhookFailures.inc();
    else metrics.hookFailures.inc();
    const deadline = d.match.time * 1000 + this.o.maxAgeMs;
    if (r.permanent || now >= deadline) {
      await store.markDead(d.matchId, t.key, attempts, now / 1000, error);
      metrics.deadLetters.inc();
      logger.warn('delivery given up (dead letter)', {
        target: t.label, kind: t.kind, match_id: d.matchId, domain: d.match.domain, rule: d.match.rule, attempts, error,
        reason: r.permanent ? 'permanent refusal' : `still failing ${Math.round(this.o.maxAgeMs / 1000)} s after the match`,
      });
      return undefined;
    }
    const delay = Math.min(Math.max(r.retryAfterMs ?? 0, backoffDelay(q.failures, { baseMs: this.o.baseBackoffMs, maxMs: this.o.maxBackoffMs })), this.o.maxBackoffMs);
    // The last retry happens at the deadline, not after it.
    const at = Math.max(now, Math.min(now + delay, deadline));
    await store.markFailed(d.matchId, t.key, attempts, at / 1000, error);
    this.logFailure(q, error, at);
    return at;
  }

  /** First failure logged at once, then at most one line a minute per target with the count in between. */
  private logFailure(q: TargetQueue, error: string, retryAt: number): void {
    const now = this.now();
    if (q.failures === 1 || now - q.lastLogged >= 60_000) {
      this.o.logger.warn(`${q.target.kind} failing`, {
        target: q.target.label, error, consecutive_failures: q.failures, suppressed: q.suppressed, retry_in_seconds: Math.round((retryAt - now) / 1000),
      });
      q.lastLogged = now;
      q.suppressed = 0;
    } else q.suppressed++;
  }

  /**
   * Updates the pending gauge, at most twice a second; a call inside that interval is not dropped but
   * deferred to its end (the last change is always reflected, even when every queue then waits on a
   * slow target and nothing else would refresh it).
   */
  private refreshPending(): void {
    if (this.stopped || this.pendingTimer) return;
    const wait = this.pendingAt + 500 - this.now();
    this.pendingTimer = setTimeout(() => {
      this.pendingTimer = undefined;
      if (this.stopped) return;
      this.pendingAt = this.now();
      void this.o.store.pendingCount().then((n) => this.o.metrics.webhookPending.set(n), () => undefined);
    }, Math.max(0, wait));
  }

  /** Stops: no new attempts; the ones in flight are aborted and stay pending. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.pendingTimer);
    for (const q of this.queues) q.stop.abort();
    await Promise.all(this.queues.map((q) => q.loop));
  }
}
