/**
 * The dashboard's `/status.json`: the health, every log's position sampled once a second (entries/s
 * over the last minute, and per ten seconds over the last ten minutes for the charts), the slow-client
 * closes and the recent sample of certificates.
 */
import { IngestRates } from '../ct/ingest-rates.js';
import { RateHistory } from '../ct/rate-history.js';
import { buildStatus, type StatusBody } from '../http/dashboard/status-json.js';
import type { ServerMetrics } from '../metrics/server-metrics.js';
import type { RecentSample } from '../stream/recent-sample.js';
import type { CloserStack } from './closer-stack.js';
import type { ServerHealth } from './server-health.js';

export class DashboardStatus {
  private readonly rates = new IngestRates();
  private readonly history = new RateHistory();

  /** Samples the ingest's positions once a second once it is open; the stop is pushed on `closers`. */
  constructor(
    private readonly health: ServerHealth,
    private readonly sample: RecentSample,
    private readonly metrics: ServerMetrics,
    closers: CloserStack,
  ) {
    const timer = setInterval(() => this.record(), 1000).unref();
    closers.push('dashboard sampling stop', () => clearInterval(timer));
  }

  /** Samples every log's position now (also right after the ingest opened, so rates start at once). */
  record(): void {
    if (!this.health.ingest) return;
    const now = Date.now();
    const statuses = this.health.ingest.statuses();
    this.rates.record(now, statuses);
    this.history.record(now, statuses);
  }

  /** The `/status.json` body, with the certificates sampled after `after`. */
  async body(after: number): Promise<StatusBody> {
    const disconnects = await this.metrics.clientDisconnects.get();
    // Registered by the hub's filter sets (stream/filter-sets.ts), on the one registry.
    const filtered = await this.metrics.registry.getSingleMetric('certstream_filtered_clients')?.get();
    const filteredOn = (stream: string) => filtered?.values.find((v) => v.labels.stream === stream)?.value ?? 0;
    const s = this.sample;
    return buildStatus({
      health: this.health.body(),
      rules: this.health.rules(),
      rates: this.rates.snapshot(),
      history: { perLog: this.history.snapshot(), stepSeconds: this.history.stepMs / 1000 },
      slowClientCloses: disconnects.values.find((v) => v.labels.reason === 'slow')?.value ?? 0,
      filteredClients: { lite: filteredOn('lite'), full: filteredOn('full'), domains: filteredOn('domains') },
      recent: { sampled_per_second: s.perSecond, last_seq: s.lastSeq, unreadable: s.unreadable, certificates: s.since(after) },
    });
  }
}
