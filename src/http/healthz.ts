/**
 * `/healthz`: the status rules (pure) and the response body (interface.md).
 *
 * A followed log is healthy when it has not failed verification, its head was polled successfully within `staleAfterMs`, its lag is
 * at most `maxLag`, and it is not streaming nothing but undecodable entries (every one of its latest
 * entries, at least MIN_JUDGED_ENTRIES, skipped). Status: `ok` when every followed log is healthy and
 * the cursor file is being saved, `degraded` when some logs are healthy or the last cursor flush
 * failed, `down` when no log is healthy, when no log is followed, or when the server is not ingesting
 * (starting up or shutting down). Only `down` answers HTTP 503.
 */
import type { CursorFlushHealth } from '../ct/cursor-store.js';
import type { LogStatus } from '../ct/types.js';
import type { RenderHealth } from '../stream/ingest-sink.js';
import type { NatsHealth } from '../nats/nats-mode.js';

export type HealthStatus = 'ok' | 'degraded' | 'down';

export interface HealthRules {
  /** Now, epoch ms. */
  nowMs: number;
  /** A log whose last successful poll is older than this is unhealthy, ms. */
  staleAfterMs: number;
  /** A log whose lag is larger is unhealthy, entries. */
  maxLag: number;
}

/** A log is judged on its skipped entries only once it has delivered at least this many. */
export const MIN_JUDGED_ENTRIES = 8;

/** A followed log in `/healthz`: the follower's status plus what the sink had to skip. */
export interface LogHealth extends LogStatus {
  /** Entries skipped since start (undecodable, or not a certificate). */
  skipped: number;
  /** How many of the log's latest entries the skip window holds (at most 256). */
  recent_entries: number;
  /** How many of those were skipped. */
  recent_skipped: number;
}

/**
 * Adds the sink's skip counts to a follower's status. When the follower has no error of its own and
 * some of the latest entries were skipped, `last_error` says so: "N of the last M entries could not be
 * rendered: <last reason>".
 */
export function withRenderHealth(status: LogStatus, render: RenderHealth | undefined): LogHealth {
  const r = render ?? { skipped: 0, recentEntries: 0, recentSkipped: 0, lastError: null };
  let lastError = status.last_error;
  if (lastError === null && r.recentSkipped > 0) {
    lastError = `${r.recentSkipped} of the last ${r.recentEntries} entries could not be rendered: ${r.lastError ?? 'unknown error'}`;
  }
  return { ...status, last_error: lastError, skipped: r.skipped, recent_entries: r.recentEntries, recent_skipped: r.recentSkipped };
}

/** The default staleness window: a few poll intervals, and never less than 30 s (request timeouts). */
export function defaultStaleAfterMs(pollIntervalMs: number): number {
  return Math.max(3 * pollIntervalMs, 30_000);
}

/** Whether one followed log is healthy under `rules`. */
export function logHealthy(log: LogStatus & Partial<Pick<LogHealth, 'recent_entries' | 'recent_skipped'>>, rules: HealthRules): boolean {
  if (log.last_success === null || log.verification === 'failed') return false;
  const recent = log.recent_entries ?? 0;
  if (recent >= MIN_JUDGED_ENTRIES && log.recent_skipped === recent) return false;
  const ageMs = rules.nowMs - log.last_success * 1000;
  // last_success is in whole seconds: allow the truncated second.
  return ageMs <= rules.staleAfterMs + 1000 && log.lag <= rules.maxLag;
}

/**
 * The overall status from the followed logs and whether the server is ingesting.
 * @param cursorsSaved false while the last cursor flush failed: at best `degraded` (a restart would
 *   resume from an older position, and a stop cannot save it either)
 */
export function healthStatus(logs: readonly LogStatus[], ingesting: boolean, rules: HealthRules, cursorsSaved = true): HealthStatus {
  if (!ingesting || logs.length === 0) return 'down';
  const healthy = logs.filter((l) => logHealthy(l, rules)).length;
  if (healthy === 0) return 'down';
  return healthy === logs.length && cursorsSaved ? 'ok' : 'degraded';
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
  /** The cursor file: whether its last write failed, and how many writes failed since start. */
  cursors: { last_error: string | null; flush_errors: number };
  logs: LogHealth[];
  /** With --nats: the link, the stream, this node's place in it. */
  nats?: NatsHealth;
  /** What keeps the server from `ok` besides its logs (the window cannot append, a stream is missing …). */
  problems: string[];
  /** The replay window, or null when there is none (--replay-window 0, an ingest node, not open yet). */
  replay_window: ReplayWindowHealth | null;
  /** Durable positions kept (certstream_durable_subscriptions), or null without a window. */
  durable_subscriptions: number | null;
}

/** The replay window in `/healthz` (and so on the dashboard's card). */
export interface ReplayWindowHealth {
  /** Age of the oldest replayable frame, seconds (0 when empty). */
  age_seconds: number;
  bytes: number;
  /** Seq of the oldest entry held, and the seq the next one gets (next - first = entries held). */
  first_seq: number;
  next_seq: number;
}

export interface HealthzInput {
  logs: LogHealth[];
  cursors: CursorFlushHealth;
  ingesting: boolean;
  rules: HealthRules;
  startedAtMs: number;
  clients: { lite: number; full: number; domains: number };
  certificates: number;
  dropped: number;
  version: string;
  /** With --nats. */
  nats?: NatsHealth;
  /** Reasons for at best `degraded`, each one line (from the pieces that know: window, NATS …). */
  problems?: readonly string[];
  /** The window and the positions, once attached. */
  durable?: { window: ReplayWindowHealth; positions: number };
}

/**
 * The status with NATS: an edge follows no log, so it is `ok` while it serves from the stream and
 * `degraded` while NATS is away or the stream not yet opened (its clients stay connected); an ingest
 * node is judged on its logs as always while NATS is there, and is `degraded` while NATS is away.
 */
function statusWithNats(input: HealthzInput): HealthStatus {
  const nats = input.nats;
  if (nats?.role === 'edge') return nats.connected && nats.delivered_seq !== null ? 'ok' : 'degraded';
  const status = healthStatus(input.logs, input.ingesting, input.rules, input.cursors.lastError === null);
  if (nats === undefined) return status;
  // NATS away: the followers wait (their lag grows, nothing is lost); restarting the node would not
  // bring NATS back, so this is `degraded`, whatever the logs look like meanwhile.
  if (!nats.connected) return 'degraded';
  if (status === 'down') return status;
  // Role all: also serving from the stream once the edge side is attached.
  return nats.role === 'ingest' || nats.delivered_seq !== null ? status : 'degraded';
}

/** Builds the `/healthz` body (pure). */
export function buildHealthz(input: HealthzInput): HealthzBody {
  const c = input.clients;
  const problems = [...(input.problems ?? [])];
  const status = statusWithNats(input);
  return {
    status: status === 'ok' && problems.length > 0 ? 'degraded' : status,
    uptime_seconds: Math.max(0, Math.round((input.rules.nowMs - input.startedAtMs) / 100) / 10),
    clients: c.lite + c.full + c.domains,
    clients_by_stream: { ...c },
    certificates: input.certificates,
    dropped_messages: input.dropped,
    healthy_logs: input.logs.filter((l) => logHealthy(l, input.rules)).length,
    version: input.version,
    cursors: { last_error: input.cursors.lastError, flush_errors: input.cursors.errors },
    logs: input.logs,
    ...(input.nats ? { nats: input.nats } : {}),
    problems,
    replay_window: input.durable?.window ?? null,
    durable_subscriptions: input.durable?.positions ?? null,
  };
}
