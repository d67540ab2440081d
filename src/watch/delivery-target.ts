/**
 * A place a match is delivered to: a webhook URL (webhook-target.ts) or a hook executable
 * (hook-target.ts). The dispatcher (delivery-dispatcher.ts) knows only this interface: it persists,
 * orders, retries and dead-letters deliveries the same way for both.
 */
import type { StoredMatch } from './store.js';

/** The outcome of one attempt. `permanent` failures are not retried (a dead letter at once). */
export type SendResult = { ok: true } | { ok: false; error: string; permanent: boolean; retryAfterMs?: number };

export interface DeliveryTarget {
  /** What the store's deliveries hold for this target (the webhook URL, or `hook:PATH`). */
  readonly key: string;
  /** For logs, metrics and errors: no secret in it (redact.ts). */
  readonly label: string;
  readonly kind: 'webhook' | 'hook';
  /**
   * One attempt, bounded in time by the target itself. When `signal` aborts (the watcher stops) the
   * attempt ends at once; its result is then ignored and the delivery stays pending.
   * Never throws: every failure is a SendResult whose `error` holds no secret.
   */
  send(match: StoredMatch, signal: AbortSignal): Promise<SendResult>;
}

/** The store key of a hook executable. */
export function hookKey(path: string): string {
  return `hook:${path}`;
}
