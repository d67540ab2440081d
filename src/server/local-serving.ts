/**
 * The local mode: the ingest publishes into the hub, paced by its fastest plain client; the replay
 * window and the durable positions are files in the state directory next to the cursors. The window is
 * synced before the cursor or positions file is written, so neither ever points past what it holds.
 */
import { describeError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { ServerConfig } from '../config/server-config.js';
import { LocalReplayWindow } from '../replay/local-replay-window.js';
import { PositionStore } from '../stream/durable-positions.js';
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

  constructor(
    private readonly config: ServerConfig,
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
    });
    closers.push('replay window close', () => window.close());
    this.window = window;
    const positions = await PositionStore.open({
      stateDir: config.stateDir,
      // A confirmation only counts once saved: save at the pace pings confirm, at least once a second.
      flushMs: Math.min(1000, config.durablePingIntervalMs),
      beforeWrite: () => window.sync(),
      onFlushError: (err) => this.logger.error('positions file flush failed', { error: describeError(err) }),
    });
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

  durableHealth(): { window: ReplayWindowHealth; positions: number } | undefined {
    if (this.window === undefined || this.positions === undefined) return undefined;
    return { window: windowHealth(this.window), positions: this.positions.size };
  }
}
