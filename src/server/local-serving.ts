/**
 * The local mode: the ingest publishes into the hub, paced by its fastest plain client; the replay
 * window and the durable positions are files in the state directory next to the cursors. The window is
 * synced before the cursor or positions file is written, so neither ever points past what it holds.
 */
import { join } from 'node:path';
import type { Logger } from '../log/logger.js';
import type { ServerMetrics } from '../metrics/server-metrics.js';
import type { ServerConfig } from '../config/server-config.js';
import { LocalReplayWindow } from '../replay/local-replay-window.js';
import { FlushFailures } from '../state/flush-failures.js';
import { POSITIONS_FILE, PositionStore } from '../stream/durable-positions.js';
import type { FanoutHub } from '../stream/fanout-hub.js';
import type { CloserStack } from './closer-stack.js';
import type { ReplayWindowHealth } from '../http/healthz.js';
import { windowHealth, type IngestSide, type Publish, type ServingMode } from './serving-mode.js';

export class LocalServing implements ServingMode {
  readonly follows = true;
  readonly serves = true;
  readonly readyOnListen = false;
  private window: LocalReplayWindow | undefined;
  private positions: PositionStore | undefined;
  private positionsFailures: FlushFailures | undefined;

  constructor(
    private readonly config: ServerConfig,
    private readonly metrics: ServerMetrics,
    private readonly logger: Logger,
  ) {}

  describe(): Record<string, unknown> {
    return {};
  }

  async attach(hub: FanoutHub, _publish: Publish, closers: CloserStack): Promise<void> {
    const { config } = this;
    if (config.replayWindowMs <= 0) return;
    const window = LocalReplayWindow.open({
      stateDir: config.stateDir,
      windowSeconds: config.replayWindowMs / 1000,
      maxBytes: config.replayWindowBytes,
      logger: this.logger.child({ component: 'replay' }),
      registry: this.metrics.registry,
    });
    closers.push('replay window close', () => window.close());
    this.window = window;
    // Failed writes (a full disk) are counted, logged at most once a minute, and shown in /healthz.
    const failures = new FlushFailures({
      logger: this.logger,
      failedMessage: 'positions file flush failed',
      recoveredMessage: 'positions file written again after failures',
      fields: { path: join(config.stateDir, POSITIONS_FILE) },
      counter: this.metrics.positionsFlushErrors,
    });
    this.positionsFailures = failures;
    const positions = await PositionStore.open({
      stateDir: config.stateDir,
      // A confirmation only counts once saved: save at the pace pings confirm, at least once a second.
      flushMs: Math.min(1000, config.durablePingIntervalMs),
      beforeWrite: () => window.sync(),
      outcome: failures,
      expireMs: config.durableExpireMs,
      maxPositions: config.maxDurableSubscriptions,
    });
    if (positions.cutBytes > 0) this.logger.warn('positions journal: the end of an unfinished save was cut', { path: positions.path, bytes: positions.cutBytes });
    closers.push('positions file close', () => positions.close());
    this.positions = positions;
    hub.attachDurable({ window, positions, pingIntervalMs: config.durablePingIntervalMs });
  }

  ingestSide(hub: FanoutHub, publish: Publish): Promise<IngestSide> {
    const window = this.window;
    return Promise.resolve({
      publish,
      deliveryGate: () => hub.roomForIngest(),
      beforeCursorWrite: window ? () => window.sync() : undefined,
    });
  }

  health(): undefined {
    return undefined;
  }

  problems(): string[] {
    const out = this.window?.problems() ?? [];
    const positions = this.positionsFailures?.health();
    if (positions?.lastError) out.push(`durable positions not saved (${positions.errors} failed writes): ${positions.lastError}`);
    return out;
  }

  durableHealth(): { window: ReplayWindowHealth; positions: number } | undefined {
    if (this.window === undefined || this.positions === undefined) return undefined;
    return { window: windowHealth(this.window), positions: this.positions.size };
  }
}
