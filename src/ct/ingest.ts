/**
 * The ingest side of the daemon: reads the log list, runs one follower per followed log (RFC 6962 or
 * static-ct-api), re-reads the list periodically (new logs start, logs that left the list stop, no
 * restart), and owns the cursor file and the HTTP clients.
 *
 * Each log gets its own HTTP client (connection pool) sized to its windows: logs that share a host
 * (Google serves 8 from one) must not queue behind a hanging one's sockets, and a request's deadline
 * must not run while it waits for a socket. Issuers and the log list use a client of their own.
 */
import { readFile } from 'node:fs/promises';
import { CertstreamError, describeError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { ServerMetrics } from '../metrics/server-metrics.js';
import type { BackoffOptions } from './backoff.js';
import { CursorStore, type CursorFlushHealth, type Cursors } from './cursor-store.js';
import { HttpClient } from './http-client.js';
import { IssuerCache } from './issuer-cache.js';
import { DEFAULT_WINDOWS, type FollowerDeps, type LogFollower } from './log-follower.js';
import { parseLogList, selectLogs } from './log-list.js';
import { Rfc6962Follower } from './rfc6962-follower.js';
import { StaticFollower } from './static-follower.js';
import { LOG_ERROR_KINDS, UPDATE_TYPES, VERIFICATION_FAILURE_REASONS, type EntrySink, type LogDescriptor, type LogStatus } from './types.js';

/** Settings of an Ingest. */
export interface IngestOptions {
  /** URL (http/https) or file path of a v3 log list. */
  logList: string;
  /** Follow only logs whose url or description matches one of these (all when empty). */
  logsInclude?: readonly RegExp[];
  /** Do not follow logs whose url or description matches one of these. */
  logsExclude?: readonly RegExp[];
  /** Directory of the cursor file. */
  stateDir: string;
  /** For a log without a saved cursor: start this many entries behind its head. */
  backfill: number;
  /** Head poll interval, ms. */
  pollIntervalMs: number;
  /** User-Agent of every request to a log. */
  userAgent: string;
  /** Log list re-read interval, ms (default 3_600_000; 0 = never). */
  refreshIntervalMs?: number;
  /** Per-request timeout, ms (default 15_000). */
  requestTimeoutMs?: number;
  /** Parallel get-entries windows / data tiles per log (default 2). */
  windows?: number;
  /** static-ct-api: how long the right-most tile must stay partial before it is read, ms (default 10_000). */
  partialTileDelayMs?: number;
  /** Retry backoff (defaults: 500 ms doubling up to 60 s). */
  backoff?: BackoffOptions;
  /** Longest Retry-After honoured, ms (default 600_000). */
  maxRetryAfterMs?: number;
  /** When false, a list and filters that select no log fail `open` (CONFIG_ERR_LOG_LIST) before the cursor file is touched (default true). */
  allowEmpty?: boolean;
  /** Ignore the saved cursors (the file is overwritten at the first flush); logged as a warning. */
  resetState?: boolean;
  /** Cursor file flush period, ms (default 1000). */
  cursorFlushMs?: number;
  /** Runs before every cursor file write (the replay window's fsync). */
  beforeCursorWrite?: () => Promise<void>;
  /** Where cursors are kept instead of the state directory's file (NATS: a key-value bucket); not loaded yet. */
  cursors?: Cursors;
  /** Verify every log's heads and entries (--verify; default true). */
  verify?: boolean;
  /** Every change of a log's verified size or verification state (verified=1 clients; FollowerDeps). */
  announceVerification?: FollowerDeps['announceVerification'];
  /** Consumer pacing of every follower (see FollowerDeps.deliveryGate). */
  deliveryGate?: () => Promise<void> | undefined;
  metrics: ServerMetrics;
  logger: Logger;
  /** Receives each log's entries in index order (synchronous). */
  sink: EntrySink;
  /** Clock, ms epoch (default Date.now). */
  now?: () => number;
}

/** Reads and parses a v3 log list from a URL or a file; CONFIG_ERR_LOG_LIST on any failure. */
export async function loadLogList(source: string, http: HttpClient): Promise<unknown> {
  let text: string;
  try {
    if (/^https?:\/\//i.test(source)) text = (await http.get(source)).body.toString('utf8');
    else text = await readFile(source, 'utf8');
  } catch (err) {
    throw new CertstreamError('CONFIG_ERR_LOG_LIST', `cannot read log list ${source}: ${describeError(err)}`, { cause: err });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CertstreamError('CONFIG_ERR_LOG_LIST', `log list ${source} is not valid JSON`, { cause: err });
  }
}

/** Runs the followers of every selected log. Create with `Ingest.open`, then `start()`; `stop()` at the end. */
export class Ingest {
  private readonly followers = new Map<string, { follower: LogFollower; http: HttpClient }>();
  private refreshTimer: NodeJS.Timeout | undefined;
  private started = false;
  private readonly now: () => number;

  private constructor(
    private readonly options: IngestOptions,
    private readonly http: HttpClient,
    private readonly cursors: Cursors,
    private readonly issuers: IssuerCache,
    private logs: LogDescriptor[],
  ) {
    this.now = options.now ?? Date.now;
  }

  /**
   * Loads the cursor file and the log list.
   * @throws CertstreamError CONFIG_ERR_LOG_LIST when the list cannot be read or parsed; STATE_ERR_* for the cursor file.
   */
  static async open(options: IngestOptions): Promise<Ingest> {
    const http = new HttpClient({ userAgent: options.userAgent, timeoutMs: options.requestTimeoutMs });
    try {
      const logs = await Ingest.select(options, http);
      if (logs.length === 0 && options.allowEmpty === false) {
        throw new CertstreamError('CONFIG_ERR_LOG_LIST', `no log to follow: the log list ${options.logList} with --logs-include/--logs-exclude selects none (fix them, or --allow-empty to start anyway)`);
      }
      const logger = options.logger;
      const cursors = options.cursors ?? new CursorStore({
        stateDir: options.stateDir,
        flushMs: options.cursorFlushMs,
        beforeWrite: options.beforeCursorWrite,
        // Counted and logged (rate-limited) by the store itself; /healthz shows it via cursorFlushHealth().
        flushErrors: options.metrics.cursorFlushErrors,
        logger,
      });
      await cursors.load({ ignoreSaved: options.resetState === true });
      if (options.resetState) logger.warn('--reset-state: saved cursors ignored, every log starts afresh', { path: cursors.path });
      return new Ingest(options, http, cursors, new IssuerCache(http), logs);
    } catch (err) {
      await http.close();
      throw err;
    }
  }

  private static async select(options: IngestOptions, http: HttpClient): Promise<LogDescriptor[]> {
    const list = parseLogList(await loadLogList(options.logList, http));
    return selectLogs(list, {
      now: (options.now ?? Date.now)(),
      include: options.logsInclude,
      exclude: options.logsExclude,
    });
  }

  /** The logs currently followed. */
  get followed(): readonly LogDescriptor[] {
    return this.logs;
  }

  /** Starts every follower and the periodic log list refresh. */
  start(): void {
    if (this.started) return;
    this.started = true;
    for (const log of this.logs) this.startFollower(log);
    this.options.metrics.logsFollowed.set(this.followers.size);
    this.options.logger.info('ingest started', {
      logs: this.logs.length,
      rfc6962: this.logs.filter((l) => l.kind === 'rfc6962').length,
      static: this.logs.filter((l) => l.kind === 'static').length,
    });
    const every = this.options.refreshIntervalMs ?? 3_600_000;
    for (const result of ['ok', 'error']) this.options.metrics.logListRefreshes.inc({ result }, 0);
    if (every > 0) {
      this.refreshTimer = setInterval(() => void this.refresh(), every);
      this.refreshTimer.unref();
    }
  }

  /**
   * Re-reads the log list: starts followers for new logs and stops those of logs that left it.
   * A failure keeps the current list; it is logged and counted, never thrown.
   * @returns whether the list was read.
   */
  async refresh(): Promise<boolean> {
    let logs: LogDescriptor[];
    try {
      logs = await Ingest.select(this.options, this.http);
    } catch (err) {
      this.options.metrics.logListRefreshes.inc({ result: 'error' });
      this.options.logger.warn('log list refresh failed, keeping the current list', { error: describeError(err) });
      return false;
    }
    this.options.metrics.logListRefreshes.inc({ result: 'ok' });
    if (!this.started) {
      this.logs = logs;
      return true;
    }
    const wanted = new Set(logs.map((l) => l.url));
    const stopping: Promise<void>[] = [];
    for (const [url, running] of this.followers) {
      if (wanted.has(url)) continue;
      this.followers.delete(url);
      this.options.logger.info('log left the log list, stopped following it', { log: url });
      stopping.push(stopFollower(running));
    }
    for (const log of logs) {
      if (this.followers.has(log.url)) continue;
      this.options.logger.info('log added to the log list, following it', { log: log.url, kind: log.kind });
      this.startFollower(log);
    }
    this.logs = logs;
    this.options.metrics.logsFollowed.set(this.followers.size);
    await Promise.all(stopping);
    return true;
  }

  /** Whether the cursor file is being saved (for /healthz). */
  cursorFlushHealth(): CursorFlushHealth {
    return this.cursors.flushHealth();
  }

  /** Per-log status for /healthz, in log list order. */
  statuses(): LogStatus[] {
    return [...this.followers.values()].map((f) => f.follower.status());
  }

  /** Stops polling (in-flight requests are aborted), flushes the cursor file and closes connections. */
  async stop(): Promise<void> {
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    this.refreshTimer = undefined;
    const followers = [...this.followers.values()];
    this.followers.clear();
    this.issuers.close();
    await Promise.all(followers.map((f) => stopFollower(f)));
    try {
      await this.cursors.close();
    } finally {
      await this.http.close();
    }
    this.options.logger.info('ingest stopped, cursors flushed', { path: this.cursors.path });
  }

  private startFollower(log: LogDescriptor): void {
    const o = this.options;
    // Every series of a followed log exists from its start at 0, so that increase() sees the first event.
    for (const kind of LOG_ERROR_KINDS) o.metrics.logErrors.inc({ log: log.url, kind }, 0);
    for (const update_type of UPDATE_TYPES) o.metrics.entries.inc({ log: log.url, update_type }, 0);
    for (const reason of VERIFICATION_FAILURE_REASONS) o.metrics.verificationFailures.inc({ log: log.url, reason }, 0);
    // Head poll and windows run one after the other, so `windows` connections cover every request in flight.
    const http = new HttpClient({
      userAgent: o.userAgent,
      timeoutMs: o.requestTimeoutMs,
      connections: Math.max(1, o.windows ?? DEFAULT_WINDOWS),
    });
    const deps: FollowerDeps = {
      log,
      http,
      sink: o.sink,
      cursors: this.cursors,
      metrics: o.metrics,
      logger: o.logger,
      pollIntervalMs: o.pollIntervalMs,
      backfill: o.backfill,
      backoff: o.backoff ?? {},
      maxRetryAfterMs: o.maxRetryAfterMs ?? 600_000,
      now: this.now,
      deliveryGate: o.deliveryGate,
      verify: o.verify ?? true,
      stateDir: o.stateDir,
      announceVerification: o.announceVerification,
    };
    const follower =
      log.kind === 'rfc6962'
        ? new Rfc6962Follower(deps, { windows: o.windows })
        : new StaticFollower(deps, { issuers: this.issuers, windows: o.windows, partialDelayMs: o.partialTileDelayMs });
    this.followers.set(log.url, { follower, http });
    follower.start();
  }
}

async function stopFollower(running: { follower: LogFollower; http: HttpClient }): Promise<void> {
  await running.follower.stop();
  await running.http.close();
}
