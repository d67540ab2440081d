/**
 * The scale-out mode (--nats): NatsMode does the work (nats/nats-mode.ts); this adapts it to the
 * server's ServingMode. A node is ready once it listens: what NATS does is its health's business
 * (`degraded` while NATS is away), not a reason for systemd to fail and restart the start.
 */
import type { Logger } from '../log/logger.js';
import type { ServerMetrics } from '../metrics/server-metrics.js';
import type { ServerConfig } from '../config/server-config.js';
import { NatsMode, type NatsHealth, type Role } from '../nats/nats-mode.js';
import type { FanoutHub } from '../stream/fanout-hub.js';
import type { VerifiedCoverage } from '../stream/verified-coverage.js';
import type { CloserStack } from './closer-stack.js';
import type { ReplayWindowHealth } from '../http/healthz.js';
import { windowHealth, type IngestSide, type Publish, type ServingMode } from './serving-mode.js';

export class NatsServing implements ServingMode {
  readonly follows: boolean;
  readonly serves: boolean;
  readonly readyOnListen = true;
  private readonly nats: NatsMode;

  constructor(
    private readonly config: ServerConfig,
    role: Role,
    metrics: ServerMetrics,
    logger: Logger,
    /** The hub's verified=1 coverage, fed on an edge from the ingest nodes' saved verification. */
    private readonly coverage?: VerifiedCoverage,
  ) {
    this.follows = role !== 'edge';
    this.serves = role !== 'ingest';
    this.nats = new NatsMode({
      servers: config.nats,
      role,
      stream: config.natsStream,
      maxAgeMs: config.replayWindowMs,
      maxBytes: config.replayWindowBytes,
      replicas: config.natsReplicas,
      flushMs: Math.min(1000, config.durablePingIntervalMs),
      positionLimits: { expireMs: config.durableExpireMs, maxPositions: config.maxDurableSubscriptions },
      metrics,
      logger: logger.child({ component: 'nats' }),
    });
  }

  describe(): Record<string, unknown> {
    return { role: this.nats.role, nats: this.config.nats, stream: this.config.natsStream };
  }

  attach(hub: FanoutHub, publish: Publish, closers: CloserStack): Promise<void> {
    // Publishes what is queued and closes the window, the positions and the connection: after the
    // ingest stopped, which the stack guarantees (the ingest's closer is pushed later).
    closers.push('nats close', () => this.nats.close());
    if (this.serves) this.nats.openEdge(hub, publish, this.config.durablePingIntervalMs, this.coverage);
    return Promise.resolve();
  }

  async ingestSide(): Promise<IngestSide | undefined> {
    const side = await this.nats.openIngest();
    if (side === undefined) return undefined;
    const { publisher, cursors } = side;
    return { publish: (frames) => publisher.publish(frames), cursors, deliveryGate: () => publisher.room() };
  }

  health(): NatsHealth {
    return this.nats.health();
  }

  problems(): string[] {
    return this.nats.problems();
  }

  durableHealth(): { window: ReplayWindowHealth; positions: number } | undefined {
    const durable = this.nats.durable();
    return durable && { window: windowHealth(durable.window), positions: durable.positions };
  }
}
