/**
 * The `ct` feed of `certaudit compare`: the CT logs themselves. It reads the log list, notes every
 * log's head (RFC 6962 STH or static-ct-api checkpoint) at the start, polls the heads while it runs and
 * once more when stopped, and reports each growth as a `range` event (the log appended lo..hi). The
 * reference set is therefore exactly what the logs appended during the window, and every miss of the
 * other feed is visible without a second stream.
 *
 * A range is stamped with the time its poll round started: every entry the other feed had delivered
 * by then was already in the log, so it is covered. Judgements of a log never go past the start of its
 * last successful poll (`settledAt`), so an entry is not called a miss of `ct` just because the next
 * poll has not happened yet. `reconnect_loss` against `ct` is approximate to the poll interval; the
 * missed counts are exact.
 */
import { HttpClient } from '../../ct/http-client.js';
import { loadLogList } from '../../ct/ingest.js';
import { parseLogList, selectLogs } from '../../ct/log-list.js';
import { headUrl, servedHeadSize, verifyServedHead } from '../../ct/served-head.js';
import type { LogDescriptor } from '../../ct/types.js';
import { CertstreamError, describeError } from '../../errors.js';
import { HeadVerifier } from '../../verify/head-verifier.js';
import { parseLogKey } from '../../verify/log-key.js';
import { VERSION } from '../../version.js';
import type { FeedEvent } from './feed-event.js';
import { normaliseLogUrl } from './feed-frame.js';
import type { FeedSource } from './feed-source.js';

/** Options of a CtFeedSource. */
export interface CtFeedOptions {
  /** v3 log list: http(s) URL or file path. */
  logList: string;
  /** Head poll interval in ms (default 10_000; keep it well under --grace). */
  pollIntervalMs?: number;
  /** Per-request timeout in ms (default 10_000). */
  timeoutMs?: number;
  /** Clock, ms since the epoch (default Date.now). */
  now?: () => number;
}

/** Reads a v3 log list from a URL or a file (as the daemon does) and selects the logs to watch. */
export async function loadLogs(source: string, http: HttpClient, now: number): Promise<LogDescriptor[]> {
  return selectLogs(parseLogList(await loadLogList(source, http)), { now });
}

/**
 * Fetches a log's current tree size. With the log list's key, the head is verified as the server's
 * followers verify it (served-head.ts): its signature, and, given `heads` (the log's earlier heads),
 * that it does not contradict them (the same size with another root). A head that fails is thrown
 * (VERIFY_ERR_*): the reference side of an audit is itself verified, and a failing head is not used.
 */
export async function fetchHead(log: LogDescriptor, http: HttpClient, signal?: AbortSignal, heads?: HeadVerifier): Promise<number> {
  const served = (await http.get(headUrl(log), signal)).body.toString('utf8');
  const size = servedHeadSize(log, served);
  let key;
  try {
    key = parseLogKey(log.key, log.logId);
  } catch {
    return size; // no usable key: unverifiable, read as before
  }
  const head = verifyServedHead(log, served, key);
  const verdict = heads?.addHead(head);
  if (verdict?.status === 'inconsistent') {
    throw new CertstreamError('VERIFY_ERR_INCONSISTENT', `${headUrl(log)}: signed head of size ${head.treeSize} contradicts an earlier one of size ${verdict.conflictsWith.treeSize}`);
  }
  return size;
}

export class CtFeedSource implements FeedSource {
  readonly url: string;
  private readonly opts: CtFeedOptions;
  private readonly now: () => number;
  private readonly http: HttpClient;
  private readonly abort = new AbortController();
  private logs: LogDescriptor[] = [];
  /** Last seen tree size per normalised log URL. */
  private readonly heads = new Map<string, number>();
  /** Each log's signed heads so far (a head contradicting them is reported, not used). */
  private readonly signedHeads = new Map<string, HeadVerifier>();
  /** Start (ms) of the last successful head poll per normalised log URL. */
  private readonly settled = new Map<string, number>();
  private onEvent: ((e: FeedEvent) => void) | undefined;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private lastRoundOk = false;
  everConnected = false;
  lastError: string | undefined;

  constructor(options: CtFeedOptions) {
    this.opts = options;
    this.now = options.now ?? Date.now;
    this.url = `ct (${options.logList})`;
    this.http = new HttpClient({ userAgent: `certaudit/${VERSION}`, timeoutMs: options.timeoutMs ?? 10_000 });
  }

  get up(): boolean {
    return this.lastRoundOk;
  }

  start(onEvent: (e: FeedEvent) => void): void {
    if (this.loop) return;
    this.onEvent = onEvent;
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted && this.logs.length === 0) {
      try {
        this.logs = await loadLogs(this.opts.logList, this.http, this.now());
        if (this.logs.length === 0) this.lastError = `log list ${this.opts.logList} names no followed log`;
      } catch (err) {
        this.lastError = describeError(err);
      }
      if (this.logs.length === 0) await this.pause();
    }
    while (!signal.aborted) {
      await this.poll(signal);
      await this.pause();
    }
  }

  /** Waits one poll interval, or less when stopping. */
  private pause(): Promise<void> {
    return new Promise((resolve) => {
      if (this.abort.signal.aborted) return resolve();
      const timer = setTimeout(done, this.opts.pollIntervalMs ?? 10_000);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  /** One round over every log: the first head of a log is the window's start, later growth is a range. */
  private async poll(signal?: AbortSignal): Promise<void> {
    const t = this.now();
    const results = await Promise.all(
      this.logs.map(async (log) => {
        try {
          let heads = this.signedHeads.get(log.url);
          if (!heads) this.signedHeads.set(log.url, (heads = new HeadVerifier()));
          return { log, size: await fetchHead(log, this.http, signal, heads) };
        } catch (err) {
          this.lastError = `${log.url}: ${describeError(err)}`;
          return { log, size: undefined };
        }
      }),
    );
    let ok = 0;
    for (const { log, size } of results) {
      if (size === undefined) continue;
      ok++;
      const id = normaliseLogUrl(log.url);
      this.settled.set(id, t);
      const prev = this.heads.get(id);
      if (prev === undefined || size < prev) {
        // First head, or a shrinking one (a broken log): only growth from here on counts.
        this.heads.set(id, size);
        continue;
      }
      if (size > prev) {
        this.onEvent?.({ ev: 'range', t, log: id, lo: prev, hi: size - 1 });
        this.heads.set(id, size);
      }
    }
    this.lastRoundOk = ok > 0;
    if (ok > 0 && !this.everConnected) {
      this.everConnected = true;
      this.lastError = undefined;
      this.onEvent?.({ ev: 'connect', t });
    }
  }

  /**
   * Time up to which `log` is fully reported: the start of its last successful poll. A log the list
   * does not name is never reported, so it sets no limit; before the first poll nothing is settled.
   */
  settledAt(log: string): number {
    if (this.logs.length === 0) return -Infinity;
    const t = this.settled.get(log);
    if (t !== undefined) return t;
    return this.logs.some((l) => normaliseLogUrl(l.url) === log) ? -Infinity : Infinity;
  }

  /** Stops polling after reading every head one last time (the window's end). */
  async stop(): Promise<void> {
    if (!this.loop) return;
    const loop = this.loop;
    this.loop = undefined;
    this.abort.abort();
    this.wake?.();
    await loop;
    if (this.logs.length > 0 && this.everConnected) await this.poll();
    await this.http.close();
  }
}
