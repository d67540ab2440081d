/**
 * What both followers share: the poll loop (head → fetch → wait), the windowed fetch loop (a few windows
 * in flight, handed on strictly in index order, one failure cancelling its siblings), retries with capped
 * exponential backoff that honour Retry-After, the hand-off to the sink with the cursor advancing only
 * after the sink returned, per-log status and metrics, and the log's verification (log-verification.ts):
 * every head's signature, the leaf hash of every entry streamed, the root at every head reached, one
 * re-fetch from the last verified size before a root mismatch is declared. Subclasses only know their
 * protocol: how to read and verify the head, how to cut [next, head) into windows, how to fetch one
 * window (with its leaf hashes) and how to prove the range before a cursor.
 */
import { setMaxListeners } from 'node:events';
import { CertstreamError, describeError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { ServerMetrics } from '../metrics/server-metrics.js';
import { backoffDelay, sleep, type BackoffOptions } from './backoff.js';
import type { CompactRange } from '../verify/compact-range.js';
import type { TreeHead } from '../verify/tree-head.js';
import type { Cursors } from './cursor-store.js';
import { HttpStatusError, errorKind, type HttpClient } from './http-client.js';
import { LogVerification, isVerificationFailure, type LogVerificationDeps } from './log-verification.js';
import { headUrl, servedHeadSize, verifyServedHead } from './served-head.js';
import { checkTreeSize } from './tree-size.js';
import type { CtEntry, EntrySink, LogDescriptor, LogStatus } from './types.js';

/** What a follower needs from its Ingest. */
export interface FollowerDeps {
  log: LogDescriptor;
  http: HttpClient;
  sink: EntrySink;
  cursors: Pick<Cursors, 'get' | 'set' | 'verifier' | 'path'>;
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
  /** --verify: check the log's heads and entries (default true). */
  verify?: boolean;
  /** State directory: verification evidence goes in its `evidence/` (none kept when undefined). */
  stateDir?: string;
  /** The log's verified size or verification state changed (LogVerificationDeps.announce). */
  announceVerification?: LogVerificationDeps['announce'];
}

/** A fetched window: its entries, and their leaf hashes when the log is being verified (else empty). */
export interface FetchedWindow {
  entries: EntryResult[];
  leafHashes: Uint8Array[];
}

/** A decoded entry, or the error that made it undecodable (skipped, counted, logged once). */
export type EntryResult = CtEntry | { index: number; error: unknown };

/** Default number of windows (get-entries ranges / data tiles) in flight per log. */
export const DEFAULT_WINDOWS = 2;

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
  /** Windows fetched in parallel during catch-up. */
  private readonly windows: number;
  protected readonly verification: LogVerification;

  /** @param windows windows in flight at once (default 2, at least 1) */
  constructor(protected readonly deps: FollowerDeps, windows = DEFAULT_WINDOWS) {
    this.windows = Math.max(1, windows);
    this.log = deps.log;
    this.logger = deps.logger.child({ log: deps.log.url });
    this.next = deps.cursors.get(deps.log.url) ?? null;
    if (this.next !== null) deps.metrics.nextIndex.set({ log: this.log.url }, this.next);
    this.verification = new LogVerification({
      log: deps.log,
      enabled: deps.verify ?? true,
      next: this.next ?? undefined,
      saved: deps.cursors.verifier(deps.log.url),
      where: `${deps.cursors.path}: ${deps.log.url}`,
      stateDir: deps.stateDir,
      metrics: deps.metrics,
      logger: this.logger,
      now: deps.now,
      announce: deps.announceVerification,
      // A failure is saved with the cursor at once: a restart keeps it.
      changed: () => {
        if (this.next !== null) this.deps.cursors.set(this.log.url, this.next, this.verification.saved());
      },
    });
  }

  /** Fetches the head (STH / checkpoint); returns its body exactly as served. */
  private async fetchHead(signal: AbortSignal): Promise<string> {
    return (await this.deps.http.get(headUrl(this.log), signal)).body.toString('utf8');
  }

  /**
   * The compact range of entries [0, next), proven against the signed `head` (an inclusion proof of entry
   * next − 1): how a log followed from a cursor without a saved range starts verifying. Undefined when
   * the protocol has no way yet (the log stays `pending`).
   */
  protected proveRange?(next: number, head: TreeHead, signal: AbortSignal): Promise<CompactRange>;

  /**
   * The end (exclusive) of the window that starts at `start`, at most `target`; or null when nothing from
   * `start` on should be fetched in this round (e.g. a partial tile that is not due yet).
   */
  protected abstract planWindow(start: number, target: number): number | null;

  /**
   * Fetches window [start, end) completely and decodes it; one result per index, in order. Throws on a
   * failure of the window as a whole (the round is then retried after a backoff).
   */
  protected abstract fetchWindow(start: number, end: number, signal: AbortSignal): Promise<FetchedWindow>;

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
      last_error: this.verification.lastError ?? this.lastError,
      verified_size: this.verification.verifiedSize,
      verification: this.verification.state,
    };
  }

  private async loop(): Promise<void> {
    const signal = this.controller.signal;
    const final = this.log.finalTreeSize;
    while (!signal.aborted) {
      try {
        // A log caught lying is not read again until the operator resets it (README "Verified logs").
        if (this.verification.stopped) {
          await sleep(this.deps.pollIntervalMs, signal);
          continue;
        }
        const served = await this.fetchHead(signal);
        const size = servedHeadSize(this.log, served);
        // Before anything is saved: an implausible head must not become a cursor.
        checkTreeSize(size, this.treeSize, `${this.log.url}: head`);
        const atHead = this.verification.head(served, (key) => verifyServedHead(this.log, served, key));
        if (this.treeSize !== null && size < this.treeSize) {
          throw new CertstreamError('CT_ERR_TREE_SHRANK', `${this.log.url}: head tree size ${size} < ${this.treeSize} seen before`);
        }
        this.headSeen(size);
        this.checkCursor(size);
        this.lastSuccess = this.deps.now();
        if (this.next === null) {
          this.next = Math.max(0, Math.min(size, final ?? Infinity) - this.deps.backfill);
          this.verification.started(this.next);
          this.advance(this.next);
          this.logger.info('log cursor initialised', { next_index: this.next, tree_size: size });
        }
        if (this.verification.needsRange) await this.startVerifying(signal);
        // The head is at exactly the streamed size and its root is not ours: the one re-fetch.
        if (atHead === 'mismatch') await this.refetch(this.next, this.next, signal);
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
        // Recorded, counted and logged by the verification already; the log waits (bad signature) or stops.
        if (isVerificationFailure(err)) await sleep(this.deps.pollIntervalMs, signal);
        else await sleep(this.failed(err), signal);
        continue;
      }
      await sleep(this.deps.pollIntervalMs, signal);
    }
  }

  /**
   * Streams [this.next, target): up to `windows` windows in flight, delivered strictly in index order.
   * Windows of one round share a controller so that one failure (or stop()) cancels its siblings.
   */
  private async fetchUpTo(target: number, signal: AbortSignal): Promise<void> {
    const round = new AbortController();
    // Every request and issuer wait of the round listens on it: dozens at once is expected, not a leak.
    setMaxListeners(256, round.signal);
    const onAbort = () => round.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    const queue: { start: number; end: number; result: Promise<FetchedWindow> }[] = [];
    let planned = this.next ?? 0;
    try {
      for (;;) {
        while (queue.length < this.windows && planned < target) {
          const end = this.planWindow(planned, target);
          if (end === null || end <= planned) break;
          const result = this.fetchWindow(planned, end, round.signal);
          // Rejections are awaited in order below; this only keeps a sibling's early one from being "unhandled".
          result.catch(() => undefined);
          queue.push({ start: planned, end, result });
          planned = end;
        }
        const head = queue.shift();
        if (!head) return;
        const window = await head.result;
        // Consumer pacing: hold the window (the cursor stays) while the fan-out has no room for it.
        await this.waitForRoom(signal);
        if (signal.aborted) return;
        let entries = window.entries;
        if (this.verification.leaves(head.start, window.leafHashes, false) === 'mismatch') {
          entries = await this.refetch(head.start, head.end, round.signal);
        }
        this.deliver(entries, head.end);
      }
    } finally {
      round.abort();
      signal.removeEventListener('abort', onAbort);
    }
  }

  /**
   * The one re-fetch before a root mismatch is declared (a corrupted download is not a lying log): back
   * to the last verified size, every entry up to `end` fetched and hashed again; a second mismatch fails
   * the log (thrown). Entries before the cursor are only hashed, never delivered twice.
   * @returns the re-fetched entries from `keepFrom` on (to deliver instead of the first download's)
   */
  private async refetch(keepFrom: number, end: number, signal: AbortSignal): Promise<EntryResult[]> {
    const kept: EntryResult[] = [];
    for (let start = this.verification.rewind(); start < end; ) {
      // A partial tile not due yet (null) is within the tile: read up to `end` in one window.
      const stop = Math.min(end, this.planWindow(start, end) ?? end);
      const window = await this.fetchWindow(start, stop, signal);
      this.verification.leaves(start, window.leafHashes, true);
      for (const e of window.entries) if (e.index >= keepFrom) kept.push(e);
      start = stop;
    }
    return kept;
  }

  /** A log without a saved range (an old cursor, a start at head − backfill): prove the range before the cursor. */
  private async startVerifying(signal: AbortSignal): Promise<void> {
    const head = this.verification.latestHead;
    if (this.proveRange === undefined || head === null || this.next === null || head.treeSize < this.next) return;
    let range: CompactRange;
    try {
      range = await this.proveRange(this.next, head, signal);
    } catch (err) {
      if (signal.aborted) throw err;
      // The log streams on, pending (as before verification); the proof is asked for again at the next
      // head. One that does not verify is no proof of a lie (our entry may differ): counted the same way.
      const kind = isVerificationFailure(err) ? 'parse' : errorKind(err);
      this.deps.metrics.logErrors.inc({ log: this.log.url, kind });
      this.logger.warn('cannot prove the range before the cursor yet: streaming it unverified (pending)', { error: describeError(err) });
      return;
    }
    this.verification.trust(range);
    this.advance(this.next);
  }

  private headSeen(size: number): void {
    this.treeSize = size;
    this.deps.metrics.treeSize.set({ log: this.log.url }, size);
  }

  /**
   * A cursor past the head (a future index in the cursor file, a lying head that was saved, a tree that
   * shrank before a restart) would wait forever for entries that never come, with lag 0. It is a failure
   * instead: last_error says what and how to fix it, certstream_log_cursor_ahead shows by how much, and the
   * head poll does not count as a success, so the log turns unhealthy (/healthz `degraded`).
   */
  private checkCursor(size: number): void {
    const head = Math.min(size, this.log.finalTreeSize ?? Infinity);
    const ahead = this.next === null ? 0 : Math.max(0, this.next - head);
    this.deps.metrics.cursorAhead.set({ log: this.log.url }, ahead);
    if (ahead === 0) return;
    throw new CertstreamError(
      'CT_ERR_CURSOR_AHEAD',
      `cursor ${this.next} is ${ahead} entries ahead of the log's tree size ${head}: ` +
        'remove this log from cursors.json (or start with --reset-state) to follow it from its head',
    );
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
  private async waitForRoom(signal: AbortSignal): Promise<void> {
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
   * The one delivery point: hands a window's decoded entries (consecutive from this.next) to the sink,
   * skipping undecodable ones, and moves the cursor to `upTo` (exclusive) once the sink has returned.
   */
  private deliver(results: readonly EntryResult[], upTo: number): void {
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
    this.deps.cursors.set(this.log.url, next, this.verification.saved());
    this.deps.metrics.nextIndex.set({ log: this.log.url }, next);
  }
}
