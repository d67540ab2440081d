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
import { redactUrl } from './redact.js';
import { asciiName, displayName, storableText } from './names.js';
import { normaliseName, type Rule } from './rules.js';
import type { MatchRow, WatchStore } from './store.js';
import type { WatchMetrics } from './watch-metrics.js';
import { DeliveryDispatcher, type DeliveryDispatcherOptions } from './delivery-dispatcher.js';
import type { DeliveryTarget } from './delivery-target.js';

/** Settings of a WatchRunner. */
export interface WatchRunnerOptions {
  /** ws:// or wss:// URL of the stream. */
  feedUrl: string;
  /** Durable subscription name. */
  id: string;
  rules: readonly Rule[];
  store: WatchStore;
  /** Where each new match is delivered (webhooks, hooks). */
  targets: readonly DeliveryTarget[];
  metrics: WatchMetrics;
  logger: Logger;
  /** Time limit of one regex batch in ms (default 1000). */
  regexTimeoutMs?: number;
  /** Feed tuning (tests shorten the intervals). */
  feed?: Partial<Omit<DurableFeedOptions, 'url' | 'id' | 'onFrames' | 'onState' | 'onFailure'>>;
  /** Delivery retry timing. */
  delivery?: Partial<Pick<DeliveryDispatcherOptions, 'baseBackoffMs' | 'maxBackoffMs' | 'maxAgeMs'>>;
}

/** The durable subscription name derived from a watch file path: its base name without extension. */
export function idFromWatchFile(path: string): string {
  const base = basename(path, extname(path)).replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64);
  return base === '' ? 'certstream-watch' : base;
}

/**
 * The stream the watcher reads: a server's `/` (lite, no DER) is read at `/full-stream` instead, since
 * a hook's CERT_SHA256 is the hash of the leaf's DER (interface.md); any other path is kept as given.
 */
export function fullStreamUrl(url: string): string {
  const u = new URL(url);
  if (u.pathname !== '/' && u.pathname !== '') return url;
  u.pathname = '/full-stream';
  return u.toString();
}

/** Valid durable subscription name (interface.md): 1–64 of A-Z a-z 0-9 . _ - */
export const SUBSCRIPTION_ID = /^[A-Za-z0-9._-]{1,64}$/;

export class WatchRunner {
  private readonly o: WatchRunnerOptions;
  private matcher: Matcher;
  /** Rules loaded by `reload`, taken up by the next batch. */
  private nextMatcher: { matcher: Matcher; rules: readonly Rule[] } | undefined;
  private rules: readonly Rule[];
  private readonly feed: DurableFeed;
  private readonly dispatcher: DeliveryDispatcher;
  private settle!: (err: Error | undefined) => void;
  /** Resolves when the runner stopped: with the fatal error, or undefined after `stop`. */
  readonly done: Promise<Error | undefined>;

  constructor(options: WatchRunnerOptions) {
    this.o = options;
    const { metrics, logger } = options;
    this.done = new Promise((resolve) => (this.settle = resolve));
    this.rules = options.rules;
    this.matcher = this.createMatcher(options.rules);
    this.dispatcher = new DeliveryDispatcher({ ...options.delivery, store: options.store, targets: options.targets, metrics, logger });
    this.feed = new DurableFeed({
      ...options.feed,
      url: options.feedUrl,
      id: options.id,
      onFrames: (frames) => this.process(frames),
      onState: (up, detail) => {
        metrics.feedUp.set(up ? 1 : 0);
        if (up) metrics.feedConnects.inc();
        if (up) logger.info('feed connected', { feed: redactUrl(options.feedUrl), id: options.id });
        else logger.warn('feed disconnected', { feed: redactUrl(options.feedUrl), reason: redactUrl(detail) });
      },
      onFailure: (err) => {
        logger.error('storing matches failed; stopping', { error: redactUrl(describeError(err)) });
        this.settle(err instanceof Error ? err : new Error(String(err)));
      },
    });
  }

  private createMatcher(rules: readonly Rule[]): Matcher {
    const { metrics, logger } = this.o;
    // Each rule's series exist from the start at 0 (increase() then sees the first match).
    for (const rule of rules) {
      metrics.matches.inc({ rule: rule.text }, 0);
      if (rule.kind === 'regex') metrics.regexTimeouts.inc({ rule: rule.text }, 0);
    }
    return new Matcher(rules, {
      timeoutMs: this.o.regexTimeoutMs ?? 1000,
      onTimeout: (rule, count, disabled) => {
        metrics.regexTimeouts.inc({ rule: rule.text });
        if (disabled) metrics.regexDisabled.inc();
        logger.warn(disabled ? 'regex rule disabled after repeated time-outs' : 'regex rule timed out; skipped for this batch', {
          rule: rule.text, timeouts: count, limit_ms: this.matcher?.guard?.timeoutMs ?? this.o.regexTimeoutMs ?? 1000,
        });
      },
      onFloor: (limitMs, startMs) => {
        logger.warn('--regex-timeout raised above the regex worker start time', { requested_ms: this.o.regexTimeoutMs, limit_ms: limitMs, worker_start_ms: startMs });
      },
    });
  }

  /**
   * Replaces the rules (SIGHUP). Batches are matched one at a time with one matcher each, so every
   * entry is matched exactly once, by the old rules or by the new: the new ones apply from the next
   * batch (the one in progress finishes with the old rules), nothing is skipped or matched twice.
   */
  reload(rules: readonly Rule[]): void {
    const previous = this.nextMatcher;
    this.nextMatcher = { matcher: this.createMatcher(rules), rules };
    if (previous) void previous.matcher.close();
  }

  /** Starts following the feed and delivering pending deliveries (from earlier runs too). */
  start(): void {
    this.o.logger.info('watching', {
      feed: redactUrl(this.o.feedUrl), id: this.o.id, rules: this.rules.length, store: this.o.store.location,
      webhooks: this.o.targets.filter((t) => t.kind === 'webhook').length, hooks: this.o.targets.filter((t) => t.kind === 'hook').length,
    });
    this.feed.start();
    this.dispatcher.start();
  }

  /** Matches and stores one batch of frames (one transaction). */
  private async process(frames: string[]): Promise<void> {
    const { metrics } = this.o;
    if (this.nextMatcher) {
      const old = this.matcher;
      ({ matcher: this.matcher, rules: this.rules } = this.nextMatcher);
      this.nextMatcher = undefined;
      void old.close();
      this.o.logger.info('rules in force', { rules: this.rules.length });
    }
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
    const dnsNames = new Map<number, string>();
    for (const m of found) {
      const c = certs[owner[m.index]];
      // Stored and sent in ASCII (punycode) form, which any name has (names.ts): nothing a certificate
      // holds can make the row unstorable or its delivery unbuildable.
      const domain = asciiName(m.name);
      // `*.a.com` and `a.com` normalise to one name: one row per (entry, name, rule).
      const key = `${owner[m.index]}\u0000${domain}\u0000${m.rule.text}`;
      if (keys.has(key)) continue;
      keys.add(key);
      let dns = dnsNames.get(owner[m.index]);
      if (dns === undefined) {
        dns = [...new Set(c.domains.map((d) => asciiName(normaliseName(d))).filter((d) => d !== ''))].join(' ');
        dnsNames.set(owner[m.index], dns);
      }
      rows.push({
        time: now, domain, domainUnicode: displayName(m.name), rule: m.rule.text, log: storableText(c.log), certIndex: c.index,
        fingerprint: storableText(c.fingerprint), serial: storableText(c.serial), issuer: storableText(c.issuer), notBefore: c.notBefore,
        notAfter: c.notAfter, updateType: storableText(c.updateType), dnsNames: dns, subject: storableText(c.subject), certSha256: c.certSha256,
      });
    }
    if (rows.length > 0) {
      const r = await this.o.store.record(rows, this.dispatcher.keys);
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
   * Clean stop: the batch in progress is finished and stored, the feed closed, deliveries in flight
   * aborted; what is still pending stays in the store for the next run.
   */
  async stop(): Promise<void> {
    await this.feed.stop();
    await this.dispatcher.stop();
    await this.matcher.close();
    await this.nextMatcher?.matcher.close();
    this.settle(undefined);
  }
}
