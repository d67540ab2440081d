/**
 * A FEED argument of `certaudit` (interface.md): an alias (`local`, `public`, overridable by
 * CERTAUDIT_LOCAL_URL / CERTAUDIT_PUBLIC_URL), a ws:// or wss:// URL, `ct`, or the path of a
 * recording. `resolveFeedSpec` is pure; `WsFeedSource` adapts the WebSocket follower to the
 * FeedSource shape the live comparison and the recorder drive.
 */
import { CertstreamError } from '../../errors.js';
import type { FeedEvent } from './feed-event.js';
import { FeedFollower, type FeedFollowerOptions } from './feed-follower.js';

/** Default of the `local` alias. */
export const DEFAULT_LOCAL_URL = 'ws://127.0.0.1:4000/';
/** Default of the `public` alias. */
export const DEFAULT_PUBLIC_URL = 'wss://certstream.calidog.io/';

/** Google's v3 log list, the default of --log-list / CERTAUDIT_LOG_LIST (the `ct` feed): defined once, in ct/. */
export { DEFAULT_LOG_LIST } from '../../ct/log-list.js';

/** What a FEED argument names. */
export type FeedSpec = { kind: 'ws'; url: string } | { kind: 'ct' } | { kind: 'recording'; path: string };

/**
 * Resolves a FEED argument.
 * @throws CertstreamError AUDIT_ERR_USAGE for an empty value or a URL scheme other than ws/wss
 */
export function resolveFeedSpec(arg: string, env: Record<string, string | undefined> = {}): FeedSpec {
  const v = arg.trim();
  if (v === '') throw new CertstreamError('AUDIT_ERR_USAGE', 'a FEED must not be empty');
  if (v === 'local') return { kind: 'ws', url: env.CERTAUDIT_LOCAL_URL || DEFAULT_LOCAL_URL };
  if (v === 'public') return { kind: 'ws', url: env.CERTAUDIT_PUBLIC_URL || DEFAULT_PUBLIC_URL };
  if (v === 'ct') return { kind: 'ct' };
  if (/^wss?:\/\//i.test(v)) {
    try {
      new URL(v);
    } catch {
      throw new CertstreamError('AUDIT_ERR_USAGE', `'${v}' is not a valid URL`);
    }
    return { kind: 'ws', url: v };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(v)) {
    throw new CertstreamError('AUDIT_ERR_USAGE', `'${v}': a feed URL must be ws:// or wss://`);
  }
  return { kind: 'recording', path: v };
}

/** A live feed the comparison or the recorder follows. */
export interface FeedSource {
  /** What the report shows as the feed's `url`. */
  readonly url: string;
  /** True while connected (for `certaudit_feed_up`). */
  readonly up: boolean;
  /** True once connected at least once (a feed never reached makes the command exit 69). */
  readonly everConnected: boolean;
  /** Last connection problem, one line, for status lines and the exit-69 message. */
  readonly lastError: string | undefined;
  /**
   * For sources that learn about entries late (the ct feed polls heads): the time (ms) up to which
   * this source has reported everything of `log`. Judgements never go past it. Absent: no limit.
   */
  settledAt?(log: string): number;
  /** Starts following; every event goes to `onEvent`, in order. */
  start(onEvent: (e: FeedEvent) => void): void;
  /** Stops following and releases sockets and timers. */
  stop(): Promise<void>;
}

/** A certstream WebSocket feed, followed with reconnects. */
export class WsFeedSource implements FeedSource {
  readonly url: string;
  private follower: FeedFollower | undefined;
  private attemptError: string | undefined;
  private readonly tuning: Partial<FeedFollowerOptions>;

  /** @param tuning ping/backoff/handshake settings and clock (tests shorten them) */
  constructor(url: string, tuning: Partial<Omit<FeedFollowerOptions, 'url' | 'onEvent'>> = {}) {
    this.url = url;
    this.tuning = tuning;
  }

  get up(): boolean {
    return this.follower?.up ?? false;
  }

  get everConnected(): boolean {
    return this.follower?.everConnected ?? false;
  }

  get lastError(): string | undefined {
    return this.attemptError;
  }

  start(onEvent: (e: FeedEvent) => void): void {
    if (this.follower) return;
    this.follower = new FeedFollower({
      ...this.tuning,
      url: this.url,
      onEvent: (e) => {
        if (e.ev === 'connect') this.attemptError = undefined;
        if (e.ev === 'disconnect') this.attemptError = [e.code, e.reason].filter((x) => x !== undefined).join(' ');
        onEvent(e);
      },
      onAttemptFailed: (err) => {
        this.attemptError = err;
        this.tuning.onAttemptFailed?.(err);
      },
    });
    this.follower.start();
  }

  async stop(): Promise<void> {
    await this.follower?.stop();
  }
}
