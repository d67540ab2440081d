/**
 * What both followers share: the poll loop (head → fetch → wait), retries with capped exponential
 * backoff that honour Retry-After, the hand-off to the sink in index order with the cursor advancing only
 * after the sink returned, per-log status and metrics. Subclasses only know their protocol.
 */
import { CertstreamError, describeError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { ServerMetrics } from '../metrics/server-metrics.js';
import { backoffDelay, sleep, type BackoffOptions } from './backoff.js';
import type { CursorStore } from './cursor-store.js';
import { HttpStatusError, errorKind, type HttpClient } from './http-client.js';
import type { CtEntry, EntrySink, LogDescriptor, LogStatus } from './types.js';

/** What a follower needs from its Ingest. */
export interface FollowerDeps {
  log: LogDescriptor;
  http: HttpClient;
  sink: EntrySink;
  cursors: CursorStore;
  metrics: ServerMetrics;
  logger: Logger;
  /** Head poll interval, ms. */
  pollIntervalMs: number;
  /** Entries behind the head to start at when there is no saved cursor. */
  backfill: number;
  /** Retry backoff (base/max ms). */
  backoff: BackoffOptions;
  /** Longest Retry-After honoured, ms (longer requests are cut to this). */
  maxRetryAfterMs: number;
  /** Clock, ms epoch. */
  now: () => number;
  /**
   * Consumer pacing: undefined when entries may be handed on now, else a promise that resolves when
   * they may (the fan-out has a client with room). The cursor does not move while waiting.
   */
  deliveryGate?: () => Promise<void> | undefined;
}

/** A decoded entry, or the error that made it undecodable (skipped, counted, logged once). */
export type EntryResult = CtEntry | { index: number; error: unknown };

/** Base class of the RFC 6962 and static-ct-api followers. */
export abstract class LogFollower {
  /** Next index to stream; null until the first head poll when there is no saved cursor. */
  protected next: number | null;
  protected treeSize: number | null = null;
  private lastSuccess: number | null = null;
  private lastError: string | null = null;
  private failures = 0;
  private readonly controller = new AbortController();
  private running: Promise<void> | undefined;
  protected readonly log: LogDescriptor;
  protected readonly logger: Logger;

  constructor(protected readonly deps: FollowerDeps) {
    this.log = deps.log;
    this.logger = deps.logger.child({ log: deps.log.url });
    this.next = deps.cursors.get(deps.log.url) ?? null;
    if (this.next !== null) deps.metrics.nextIndex.set({ log: this.log.url }, this.next);
  }

  /** Polls the head; returns the tree size (validated by the subclass). */
  protected abstract pollHead(signal: AbortSignal): Promise<number>;

  /** Streams entries [this.next, target) through `deliver`; may stop early (e.g. waiting on a partial tile). */
  protected abstract fetchUpTo(target: number, signal: AbortSignal): Promise<void>;

  /** Starts the loop (once). */
  start(): void {
    this.running ??= this.loop();
  }

  /** Aborts in-flight requests and resolves once the loop has returned. */
  async stop(): Promise<void> {
    this.controller.abort();
    await this.running;
  }

  /** Current status for /healthz. */
  status(): LogStatus {
    const next = this.next ?? 0;
    return {
      url: this.log.url,
      name: this.log.name,
      kind: this.log.kind,
      tree_size: this.treeSize,
      next_index: next,
      lag: this.treeSize === null ? 0 : Math.max(0, this.treeSize - next),
      last_success: this.lastSuccess === null ? null : Math.floor(this.lastSuccess / 1000),
      last_error: this.lastError,
    };
  }

  private async loop(): Promise<void> {
    const signal = this.controller.signal;
    const final = this.log.finalTreeSize;
    while (!signal.aborted) {
      try {
        const size = await this.pollHead(signal);
        this.headOk(size);
        if (this.next === null) {
          this.next = Math.max(0, Math.min(size, final ?? Infinity) - this.deps.backfill);
          this.advance(this.next);
          this.logger.info('log cursor initialised', { next_index: this.next, tree_size: size });
        }
        const target = Math.min(size, final ?? Infinity);
        if (this.next < target) await this.fetchUpTo(target, signal);
        this.failures = 0;
        this.lastError = null;
        if (final !== undefined && this.next >= final) {
          this.logger.info('readonly log fully streamed', { final_tree_size: final });
          return;
        }
      } catch (err) {
        if (signal.aborted) return;
        await sleep(this.failed(err), signal);
        continue;
      }
      await sleep(this.deps.pollIntervalMs, signal);
    }
  }

  private headOk(size: number): void {
    this.treeSize = size;
    this.lastSuccess = this.deps.now();
    this.deps.metrics.treeSize.set({ log: this.log.url }, size);
  }

  /** Counts and logs a failure; returns how long to wait before the next attempt, in ms. */
  private failed(err: unknown): number {
    this.failures++;
    const kind = errorKind(err);
    this.deps.metrics.logErrors.inc({ log: this.log.url, kind });
    this.lastError = describeError(err);
    let delay = backoffDelay(this.failures, this.deps.backoff);
    if (err instanceof HttpStatusError && err.retryAfterMs !== undefined) {
      delay = Math.min(this.deps.maxRetryAfterMs, Math.max(delay, err.retryAfterMs));
    }
    const code = err instanceof CertstreamError ? err.code : undefined;
    const fields = { code, error: this.lastError, retry_in_ms: delay, attempt: this.failures };
    if (kind === 'rate_limited') this.logger.warn('log rate-limited us, backing off', fields);
    else this.logger.warn('log request failed, backing off', fields);
    return delay;
  }

  /** Waits until the fan-out can take entries (consumer pacing), or the follower is stopped. */
  protected async waitForRoom(signal: AbortSignal): Promise<void> {
    const wait = this.deps.deliveryGate?.();
    if (wait === undefined || signal.aborted) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        signal.removeEventListener('abort', done);
        resolve();
      };
      signal.addEventListener('abort', done, { once: true });
      void wait.then(done);
    });
  }

  /**
   * Hands decoded entries (consecutive from this.next) to the sink, skipping undecodable ones, and
   * moves the cursor to `upTo` (exclusive) once the sink has returned.
   */
  protected deliver(results: readonly EntryResult[], upTo: number): void {
    // Undecodable entries go to the sink too: it owns the skip-and-count policy (stream/ingest-sink.ts).
    if (results.length > 0) {
      try {
        this.deps.sink(this.log, results);
      } catch (err) {
        // The sink is the server's; an exception there must not wedge this log in a retry loop.
        this.logger.error('entry sink threw; entries skipped', { from: results[0].index, error: describeError(err) });
      }
    }
    this.advance(upTo);
  }

  private advance(next: number): void {
    if (this.next !== null && next > this.next) this.failures = 0;
    this.next = next;
    this.deps.cursors.set(this.log.url, next);
    this.deps.metrics.nextIndex.set({ log: this.log.url }, next);
  }
}
