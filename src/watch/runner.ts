/**
 * `certstream-watch run` wired together (the command itself, argument parsing and exit codes, is
 * src/cli/certstream-watch/run-command.ts): the durable feed hands frames in batches; each batch is
 * parsed, matched, and stored in one transaction (with its pending webhook deliveries) before the
 * feed confirms it to the server; the dispatcher then delivers. Nothing here exits: `done` resolves
 * with the fatal error (a database failure) or undefined after `stop`.
 */
import { basename, extname } from 'node:path';
import { describeError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { parseCertFrame, type CertEntry } from './cert-frame.js';
import { DurableFeed, type DurableFeedOptions } from './durable-feed.js';
import { Matcher } from './matcher.js';
import type { Rule } from './rules.js';
import type { MatchRow, WatchStore } from './store.js';
import type { WatchMetrics } from './watch-metrics.js';
import { WebhookDispatcher, type WebhookDispatcherOptions } from './webhook-dispatcher.js';

/** Settings of a WatchRunner. */
export interface WatchRunnerOptions {
  /** ws:// or wss:// URL of the stream. */
  feedUrl: string;
  /** Durable subscription name. */
  id: string;
  rules: readonly Rule[];
  store: WatchStore;
  webhooks: readonly string[];
  metrics: WatchMetrics;
  logger: Logger;
  /** Time limit of one regex batch in ms (default 1000). */
  regexTimeoutMs?: number;
  /** Feed tuning (tests shorten the intervals). */
  feed?: Partial<Omit<DurableFeedOptions, 'url' | 'id' | 'onFrames' | 'onState' | 'onFailure'>>;
  /** Webhook tuning (tests shorten the backoff). */
  webhook?: Partial<Pick<WebhookDispatcherOptions, 'timeoutMs' | 'baseBackoffMs' | 'maxBackoffMs'>>;
}

/** The durable subscription name derived from a watch file path: its base name without extension. */
export function idFromWatchFile(path: string): string {
  const base = basename(path, extname(path)).replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64);
  return base === '' ? 'certstream-watch' : base;
}

/** Valid durable subscription name (interface.md): 1–64 of A-Z a-z 0-9 . _ - */
export const SUBSCRIPTION_ID = /^[A-Za-z0-9._-]{1,64}$/;

export class WatchRunner {
  private readonly o: WatchRunnerOptions;
  private readonly matcher: Matcher;
  private readonly feed: DurableFeed;
  private readonly dispatcher: WebhookDispatcher;
  private settle!: (err: Error | undefined) => void;
  /** Resolves when the runner stopped: with the fatal error, or undefined after `stop`. */
  readonly done: Promise<Error | undefined>;

  constructor(options: WatchRunnerOptions) {
    this.o = options;
    const { metrics, logger } = options;
    this.done = new Promise((resolve) => (this.settle = resolve));
    this.matcher = new Matcher(options.rules, {
      timeoutMs: options.regexTimeoutMs ?? 1000,
      onTimeout: (rule, count, disabled) => {
        metrics.regexTimeouts.inc({ rule: rule.text });
        if (disabled) metrics.regexDisabled.inc();
        logger.warn(disabled ? 'regex rule disabled after repeated time-outs' : 'regex rule timed out; skipped for this batch', {
          rule: rule.text, timeouts: count, limit_ms: options.regexTimeoutMs ?? 1000,
        });
      },
    });
    this.dispatcher = new WebhookDispatcher({ ...options.webhook, store: options.store, urls: options.webhooks, metrics, logger });
    this.feed = new DurableFeed({
      ...options.feed,
      url: options.feedUrl,
      id: options.id,
      onFrames: (frames) => this.process(frames),
      onState: (up, detail) => {
        metrics.feedUp.set(up ? 1 : 0);
        if (up) metrics.feedConnects.inc();
        if (up) logger.info('feed connected', { feed: options.feedUrl, id: options.id });
        else logger.warn('feed disconnected', { feed: options.feedUrl, reason: detail });
      },
      onFailure: (err) => {
        logger.error('storing matches failed; stopping', { error: describeError(err) });
        this.settle(err instanceof Error ? err : new Error(String(err)));
      },
    });
  }

  /** Starts following the feed and delivering pending webhooks (from earlier runs too). */
  start(): void {
    this.o.logger.info('watching', { feed: this.o.feedUrl, id: this.o.id, rules: this.o.rules.length, store: this.o.store.location, webhooks: this.o.webhooks.length });
    this.feed.start();
    this.dispatcher.start();
  }

  /** Matches and stores one batch of frames (one transaction). */
  private async process(frames: string[]): Promise<void> {
    const { metrics } = this.o;
    const certs: CertEntry[] = [];
    for (const f of frames) {
      const c = parseCertFrame(f);
      if (c) certs.push(c);
      else if (!f.includes('"heartbeat"')) metrics.otherFrames.inc();
    }
    if (certs.length === 0) return;
    metrics.certificates.inc(certs.length);
    const names: string[] = [];
    const owner: number[] = [];
    certs.forEach((c, i) => {
      for (const d of new Set(c.domains)) {
        names.push(d);
        owner.push(i);
      }
    });
    const found = await this.matcher.match(names);
    const now = Date.now() / 1000;
    const rows: MatchRow[] = [];
    const keys = new Set<string>();
    for (const m of found) {
      const c = certs[owner[m.index]];
      // `*.a.com` and `a.com` normalise to one name: one row per (entry, name, rule).
      const key = `${owner[m.index]}\u0000${m.name}\u0000${m.rule.text}`;
      if (keys.has(key)) continue;
      keys.add(key);
      rows.push({
        time: now, domain: m.name, rule: m.rule.text, log: c.log, certIndex: c.index, fingerprint: c.fingerprint,
        serial: c.serial, issuer: c.issuer, notBefore: c.notBefore, notAfter: c.notAfter, updateType: c.updateType,
      });
    }
    if (rows.length > 0) {
      const r = await this.o.store.record(rows, this.o.webhooks);
      for (const m of r.inserted) {
        metrics.matches.inc({ rule: m.rule });
        if (m.sightingOf !== null) metrics.sightings.inc();
      }
      metrics.duplicates.inc(r.duplicates);
      if (r.alerting > 0) this.dispatcher.kick();
    }
    metrics.lagSeconds.set(Math.max(0, now - certs[certs.length - 1].seen));
  }

  /**
   * Clean stop: the batch in progress is finished and stored, the feed closed, webhook POSTs in flight
   * completed; what is still pending stays in the store for the next run.
   */
  async stop(): Promise<void> {
    await this.feed.stop();
    await this.dispatcher.stop();
    await this.matcher.close();
    this.settle(undefined);
  }
}
