/**
 * `GET /status.json`: the data behind the dashboard, for scripts too — the `/healthz` body plus rates
 * (entries/s per log and in total over the last minute), each log's state as the dashboard marks it,
 * the slow-client closes, and the newest sampled certificates. Pure: the daemon gathers the inputs.
 */
import type { RateSnapshot } from '../../ct/ingest-rates.js';
import type { SampledCert } from '../../stream/recent-sample.js';
import type { HealthRules, HealthzBody, LogHealth } from '../healthz.js';

/**
 * How the dashboard marks a log: `failing` (its last poll failed, its latest entries could not be
 * rendered — both show in `last_error` — or no success within the staleness window), `behind` (lag above `--max-lag`), `starting` (not polled yet, no error either), `ok`.
 */
export type LogState = 'failing' | 'behind' | 'starting' | 'ok';

export interface StatusLog extends LogHealth {
  /** Entries/s over the rate window, or null before two samples. */
  entries_per_second: number | null;
  /** Entries/s per `rate_history_step_seconds` over the last ten minutes, oldest first (the chart). */
  rate_history: number[];
  state: LogState;
}

export interface StatusBody extends Omit<HealthzBody, 'logs'> {
  logs: StatusLog[];
  /** Server time, epoch seconds: ages (last_success) are relative to this, not to the reader's clock. */
  now: number;
  max_lag: number;
  stale_after_seconds: number;
  /** Sum of the per-log rates, or null before two samples. */
  entries_per_second: number | null;
  /** Seconds the rates cover (≈ 60 once the server has run a minute). */
  rate_window_seconds: number;
  /** Seconds per point of each log's `rate_history`. */
  rate_history_step_seconds: number;
  /** Clients closed for staying over their byte budget (certstream_client_disconnects_total{reason="slow"}). */
  slow_client_closes: number;
  /** Clients with a `match=` filter, by stream (counted in `clients_by_stream` too). */
  filtered_clients_by_stream: { lite: number; full: number; domains: number };
  recent: {
    /** At most this many certificates a second are sampled (the page says so). */
    sampled_per_second: number;
    /** Sequence number of the newest sample: pass it back as `?after=` to get only newer ones. */
    last_seq: number;
    /** Published frames the sampler could not read as certificates (0 unless something is broken). */
    unreadable: number;
    certificates: SampledCert[];
  };
}

export interface StatusInput {
  health: HealthzBody;
  rules: HealthRules;
  rates: RateSnapshot;
  /** Per log url: entries/s per step, oldest first; and the step's length. */
  history: { perLog: ReadonlyMap<string, readonly number[]>; stepSeconds: number };
  slowClientCloses: number;
  /** certstream_filtered_clients by stream (default none). */
  filteredClients?: StatusBody['filtered_clients_by_stream'];
  recent: StatusBody['recent'];
}

/** The state of one log under the health rules. */
export function logState(log: LogHealth, rules: HealthRules): LogState {
  if (log.last_error !== null) return 'failing';
  if (log.last_success === null) return 'starting';
  // last_success is in whole seconds: allow the truncated second (as logHealthy does).
  if (rules.nowMs - log.last_success * 1000 > rules.staleAfterMs + 1000) return 'failing';
  return log.lag > rules.maxLag ? 'behind' : 'ok';
}

/** Builds the `/status.json` body (pure). Logs keep the `/healthz` order; rates are rounded to 0.1. */
export function buildStatus(input: StatusInput): StatusBody {
  const { health, rules, rates } = input;
  const round = (x: number) => Math.round(x * 10) / 10;
  return {
    ...health,
    logs: health.logs.map((l) => {
      const r = rates.perLog.get(l.url);
      const history = (input.history.perLog.get(l.url) ?? []).map(round);
      return { ...l, entries_per_second: r === undefined ? null : round(r), rate_history: history, state: logState(l, rules) };
    }),
    now: rules.nowMs / 1000,
    max_lag: rules.maxLag,
    stale_after_seconds: rules.staleAfterMs / 1000,
    entries_per_second: rates.total === null ? null : round(rates.total),
    rate_window_seconds: round(rates.windowSeconds),
    rate_history_step_seconds: input.history.stepSeconds,
    slow_client_closes: input.slowClientCloses,
    filtered_clients_by_stream: { lite: 0, full: 0, domains: 0, ...input.filteredClients },
    recent: input.recent,
  };
}
