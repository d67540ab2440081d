/**
 * The metrics of `certstream-watch run`, in their own registry (never prom-client's global one). The
 * three names of interface.md (`certwatch_matches_total{rule}`, `certwatch_webhook_failures_total`,
 * `certwatch_feed_up`) plus what an operator needs to see that nothing is silently skipped: lag,
 * duplicates, sightings, regex overruns and disabled rules, pending deliveries.
 */
import { Counter, Gauge, Registry } from 'prom-client';

export interface WatchMetrics {
  readonly registry: Registry;
  /** New matches stored, by rule (as written in the watch file). */
  matches: Counter<'rule'>;
  /** Failed webhook attempts (HTTP error, timeout, connection failure). */
  webhookFailures: Counter;
  /** Delivered webhook POSTs. */
  webhookDeliveries: Counter;
  /** Failed hook runs (non-zero exit, time limit, cannot start). */
  hookFailures: Counter;
  /** Hook runs that exited 0. */
  hookDeliveries: Counter;
  /** Deliveries given up (permanent refusal, or failing past --delivery-max-age): kept as dead letters. */
  deadLetters: Counter;
  /** 1 while the feed's WebSocket is open. */
  feedUp: Gauge;
  /** Certificates examined. */
  certificates: Counter;
  /** Matches seen again (replayed frames after a reconnect or a restart) and not stored twice. */
  duplicates: Counter;
  /** Matches stored as a sighting of the precertificate or certificate with the same serial and issuer. */
  sightings: Counter;
  /** Frames that were neither a certificate nor a heartbeat, or malformed. */
  otherFrames: Counter;
  /** Regex batches a rule overran (the rule was skipped for that batch), by rule. */
  regexTimeouts: Counter<'rule'>;
  /** Regex rules disabled after repeated overruns. */
  regexDisabled: Gauge;
  /** Deliveries not yet made nor given up (webhooks and hooks; refreshed as the queues work). */
  webhookPending: Gauge;
  /** Seconds between the server seeing the last certificate (`data.seen`) and the watcher storing it. */
  lagSeconds: Gauge;
  /** Feed (re)connections. */
  feedConnects: Counter;
}

/** Creates the metrics in a fresh registry. */
export function createWatchMetrics(): WatchMetrics {
  const registry = new Registry();
  const registers = [registry];
  return {
    registry,
    matches: new Counter({ name: 'certwatch_matches_total', help: 'New matches stored, by rule.', labelNames: ['rule'] as const, registers }),
    webhookFailures: new Counter({ name: 'certwatch_webhook_failures_total', help: 'Failed webhook delivery attempts.', registers }),
    webhookDeliveries: new Counter({ name: 'certwatch_webhook_deliveries_total', help: 'Webhook POSTs delivered (2xx).', registers }),
    hookFailures: new Counter({ name: 'certwatch_hook_failures_total', help: 'Failed hook runs (non-zero exit, time limit, cannot start).', registers }),
    hookDeliveries: new Counter({ name: 'certwatch_hook_deliveries_total', help: 'Hook runs that exited 0.', registers }),
    deadLetters: new Counter({ name: 'certwatch_dead_letters_total', help: 'Deliveries given up (permanent refusal or --delivery-max-age passed), kept as dead letters.', registers }),
    feedUp: new Gauge({ name: 'certwatch_feed_up', help: 'Whether the feed is connected (1) or not (0).', registers }),
    certificates: new Counter({ name: 'certwatch_certificates_total', help: 'Certificates examined.', registers }),
    duplicates: new Counter({ name: 'certwatch_duplicate_matches_total', help: 'Matches received again (replays) and not stored twice.', registers }),
    sightings: new Counter({ name: 'certwatch_sightings_total', help: 'Matches stored as a sighting of an earlier precertificate/certificate (no alert).', registers }),
    otherFrames: new Counter({ name: 'certwatch_other_frames_total', help: 'Frames that were not a usable certificate_update or heartbeat.', registers }),
    regexTimeouts: new Counter({ name: 'certwatch_regex_timeouts_total', help: 'Regex batches a rule overran its time limit in (skipped for that batch).', labelNames: ['rule'] as const, registers }),
    regexDisabled: new Gauge({ name: 'certwatch_regex_rules_disabled', help: 'Regex rules disabled after repeated overruns.', registers }),
    webhookPending: new Gauge({ name: 'certwatch_webhook_pending', help: 'Deliveries (webhooks and hooks) not yet made and not dead letters.', registers }),
    lagSeconds: new Gauge({ name: 'certwatch_lag_seconds', help: 'Seconds from the server seeing the last certificate to the watcher storing it.', registers }),
    feedConnects: new Counter({ name: 'certwatch_feed_connects_total', help: 'Feed connections opened.', registers }),
  };
}
