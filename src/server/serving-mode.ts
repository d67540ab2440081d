/**
 * The server's mode, chosen once from the configuration: what follows the logs, where the ingest's
 * entries go, and what the hub's replay window is.
 *
 * - local (no --nats): the ingest publishes into the hub; the window and the durable positions are files
 *   in the state directory (LocalServing).
 * - NATS (--nats, --role all|ingest|edge): the ingest publishes into a JetStream stream whose tail feeds
 *   the hub; cursors and positions are key-value buckets (NatsServing). An ingest node serves no stream,
 *   an edge follows no log.
 */
import type { ServerConfig } from '../config/server-config.js';
import type { Cursors } from '../ct/cursor-store.js';
import type { Logger } from '../log/logger.js';
import type { ServerMetrics } from '../metrics/server-metrics.js';
import type { ReplayWindowHealth } from '../http/healthz.js';
import type { NatsHealth } from '../nats/nats-mode.js';
import type { ReplayWindow } from '../replay/replay-window.js';
import type { FanoutHub } from '../stream/fanout-hub.js';
import type { VerifiedCoverage } from '../stream/verified-coverage.js';
import type { CloserStack } from './closer-stack.js';
import { LocalServing } from './local-serving.js';

/** The hub's publish, as the sink and the stream tail call it. */
export type Publish = FanoutHub['publish'];

/** What the ingest takes from the mode. */
export interface IngestSide {
  /** Where rendered entries go. */
  publish: Publish;
  /** Cursors kept elsewhere than the state directory's file (NATS); not loaded yet. */
  cursors?: Cursors;
  /** Consumer pacing of every follower. */
  deliveryGate: () => Promise<void> | undefined;
  /** Runs before every cursor write (the window's fsync). */
  beforeCursorWrite?: () => Promise<void>;
}

export interface ServingMode {
  /** Follows CT logs (an edge does not). */
  readonly follows: boolean;
  /** Serves the streams (an ingest node does not). */
  readonly serves: boolean;
  /** Ready for systemd once listening (NATS: /healthz says what is missing) instead of once following. */
  readonly readyOnListen: boolean;
  /** Fields of the `listening` log line. */
  describe(): Record<string, unknown>;
  /**
   * After the listener is bound: opens the replay window and the positions (or starts following the
   * stream) and attaches them to the hub; pushes its closers.
   * @throws STATE_ERR_* when the state directory's files cannot be opened
   */
  attach(hub: FanoutHub, publish: Publish, closers: CloserStack): Promise<void>;
  /** The ingest's side, once reachable (NATS: waits for it); undefined when closed first. */
  ingestSide(hub: FanoutHub, publish: Publish): Promise<IngestSide | undefined>;
  /** The `nats` object of `/healthz`, in NATS mode. */
  health(): NatsHealth | undefined;
  /** Why the mode keeps the server from `ok` (the window cannot append, positions not saved …): one line each. */
  problems(): string[];
  /** The replay window and the positions kept, once attached (none on an ingest node). */
  durableHealth(): { window: ReplayWindowHealth; positions: number } | undefined;
}

/** A window's figures for `/healthz`. */
export function windowHealth(window: ReplayWindow, nowMs = Date.now()): ReplayWindowHealth {
  const oldest = window.oldestSeen;
  return {
    age_seconds: oldest === undefined ? 0 : Math.max(0, Math.round(nowMs / 100 - oldest * 10) / 10),
    bytes: window.bytes,
    first_seq: window.firstSeq,
    next_seq: window.nextSeq,
  };
}

/**
 * The mode the configuration asks for. The NATS side (its client library and the src/nats modules) is
 * loaded only when --nats is set: a one-process server never runs it, and loading it costs about
 * 2 MB of heap and code that an idle server would otherwise keep for its whole life. `coverage` (the
 * hub's verified=1 coverage) is fed by a NATS edge from the ingest nodes' saved verification.
 */
export async function chooseServingMode(config: ServerConfig, metrics: ServerMetrics, logger: Logger, coverage?: VerifiedCoverage): Promise<ServingMode> {
  if (config.nats === '') return new LocalServing(config, metrics, logger);
  const { NatsServing } = await import('./nats-serving.js');
  return new NatsServing(config, config.role, metrics, logger, coverage);
}
