/**
 * The server's health, joined from its pieces: the followers' statuses, the sink's skip counts, the
 * cursor file's flush state, the mode's NATS state and the problems other pieces report (the window
 * cannot append …). `/healthz`, the dashboard and systemd's watchdog all read it here.
 */
import type { ServerConfig } from '../config/server-config.js';
import type { Ingest } from '../ct/ingest.js';
import { buildHealthz, defaultStaleAfterMs, healthStatus, withRenderHealth, type HealthRules, type HealthzBody, type LogHealth } from '../http/healthz.js';
import type { FanoutHub } from '../stream/fanout-hub.js';
import type { IngestSink } from '../stream/ingest-sink.js';
import { VERSION } from '../version.js';
import type { ServingMode } from './serving-mode.js';

export class ServerHealth {
  /** Set once the ingest is open (the listener is bound first: until then no logs are shown). */
  ingest: Ingest | undefined;
  /** True between the ingest's start and the stop. */
  ingesting = false;
  private readonly startedAtMs = Date.now();

  constructor(
    private readonly config: ServerConfig,
    private readonly hub: FanoutHub,
    private readonly sink: IngestSink,
    private readonly mode: ServingMode,
  ) {}

  rules(): HealthRules {
    return { nowMs: Date.now(), staleAfterMs: defaultStaleAfterMs(this.config.pollIntervalMs), maxLag: this.config.maxLag };
  }

  logs(): LogHealth[] {
    return (this.ingest?.statuses() ?? []).map((s) => withRenderHealth(s, this.sink.renderHealth(s.url)));
  }

  /** The `/healthz` body now. */
  body(): HealthzBody {
    const stats = this.hub.stats();
    return buildHealthz({
      logs: this.logs(),
      // Not opened yet (the moments between bind and Ingest.open): nothing written, nothing failed.
      cursors: this.ingest?.cursorFlushHealth() ?? { lastError: null, errors: 0 },
      ingesting: this.ingesting,
      rules: this.rules(),
      startedAtMs: this.startedAtMs,
      clients: stats.clients,
      certificates: stats.published,
      dropped: stats.dropped,
      version: VERSION,
      nats: this.mode.health(),
      // What degrades the server besides its logs (the window, positions, NATS): the mode knows.
      problems: this.mode.problems(),
      durable: this.mode.durableHealth(),
    });
  }

  /** For systemd's watchdog: anything but `down` (locally judged on the logs alone). */
  healthy(): boolean {
    return (this.mode.health() ? this.body().status : healthStatus(this.logs(), this.ingesting, this.rules())) !== 'down';
  }
}
