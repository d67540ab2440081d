/**
 * `/healthz`: the status rules (pure) and the response body (interface.md).
 *
 * A followed log is healthy when its head was polled successfully within `staleAfterMs` and its lag
 * is at most `maxLag`. Status: `ok` when every followed log is healthy, `degraded` when some are,
 * `down` when none is, when no log is followed, or when the server is not ingesting (starting up or
 * shutting down). Only `down` answers HTTP 503.
 */
import type { LogStatus } from '../ct/types.js';

export type HealthStatus = 'ok' | 'degraded' | 'down';

export interface HealthRules {
  /** Now, epoch ms. */
  nowMs: number;
  /** A log whose last successful poll is older than this is unhealthy, ms. */
  staleAfterMs: number;
  /** A log whose lag is larger is unhealthy, entries. */
  maxLag: number;
}

/** The default staleness window: a few poll intervals, and never less than 30 s (request timeouts). */
export function defaultStaleAfterMs(pollIntervalMs: number): number {
  return Math.max(3 * pollIntervalMs, 30_000);
}

/** Whether one followed log is healthy under `rules`. */
export function logHealthy(log: LogStatus, rules: HealthRules): boolean {
  if (log.last_success === null) return false;
  const ageMs = rules.nowMs - log.last_success * 1000;
  // last_success is in whole seconds: allow the truncated second.
  return ageMs <= rules.staleAfterMs + 1000 && log.lag <= rules.maxLag;
}

/** The overall status from the followed logs and whether the server is ingesting. */
export function healthStatus(logs: readonly LogStatus[], ingesting: boolean, rules: HealthRules): HealthStatus {
  if (!ingesting || logs.length === 0) return 'down';
  const healthy = logs.filter((l) => logHealthy(l, rules)).length;
  if (healthy === logs.length) return 'ok';
  return healthy === 0 ? 'down' : 'degraded';
}

/** HTTP status for a health status: 503 only when down. */
export function healthHttpStatus(status: HealthStatus): number {
  return status === 'down' ? 503 : 200;
}

export interface HealthzBody {
  status: HealthStatus;
  uptime_seconds: number;
  clients: number;
  clients_by_stream: { lite: number; full: number; domains: number };
  /** Certificates published to the streams since start. */
  certificates: number;
  dropped_messages: number;
  healthy_logs: number;
  version: string;
  logs: LogStatus[];
}

export interface HealthzInput {
  logs: LogStatus[];
  ingesting: boolean;
  rules: HealthRules;
  startedAtMs: number;
  clients: { lite: number; full: number; domains: number };
  certificates: number;
  dropped: number;
  version: string;
}

/** Builds the `/healthz` body (pure). */
export function buildHealthz(input: HealthzInput): HealthzBody {
  const c = input.clients;
  return {
    status: healthStatus(input.logs, input.ingesting, input.rules),
    uptime_seconds: Math.max(0, Math.round((input.rules.nowMs - input.startedAtMs) / 100) / 10),
    clients: c.lite + c.full + c.domains,
    clients_by_stream: { ...c },
    certificates: input.certificates,
    dropped_messages: input.dropped,
    healthy_logs: input.logs.filter((l) => logHealthy(l, input.rules)).length,
    version: input.version,
    logs: input.logs,
  };
}
