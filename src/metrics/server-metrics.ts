/**
 * The daemon's one metrics registry (style.md habit 8): created once in the entry point and injected.
 * The names of the contract (interface.md) are defined here; components may register further metrics
 * of their own on `registry`, named `certstream_*` with Prometheus conventions (`_total`, `_seconds`).
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export interface ServerMetrics {
  readonly registry: Registry;
  /** certstream_entries_total{log,update_type}: entries streamed (update_type X509LogEntry|PrecertLogEntry). */
  readonly entries: Counter<'log' | 'update_type'>;
  /** certstream_log_tree_size{log}: last known head of each followed log. */
  readonly treeSize: Gauge<'log'>;
  /** certstream_log_next_index{log}: next entry to stream. */
  readonly nextIndex: Gauge<'log'>;
  /** certstream_log_errors_total{log,kind}: kind is http | rate_limited | parse | timeout. */
  readonly logErrors: Counter<'log' | 'kind'>;
  /** certstream_clients{stream}: stream is lite | full | domains. */
  readonly clients: Gauge<'stream'>;
  /** certstream_client_dropped_messages_total{stream}: frames not delivered to slow clients. */
  readonly droppedMessages: Counter<'stream'>;
  /** certstream_client_disconnects_total{reason}. */
  readonly clientDisconnects: Counter<'reason'>;
  /** certstream_log_list_refreshes_total{result}: result is ok | error. */
  readonly logListRefreshes: Counter<'result'>;
  /** certstream_logs_followed: logs currently followed. */
  readonly logsFollowed: Gauge;
  /** certstream_log_cursor_ahead{log}: entries the cursor is past the log's head (0 normally; the log stalls while > 0). */
  readonly cursorAhead: Gauge<'log'>;
  /** certstream_cursor_flush_errors_total: failed writes of the cursor file (state dir unwritable or full). */
  readonly cursorFlushErrors: Counter;
  /** certstream_positions_flush_errors_total: failed writes of the durable positions (file or bucket). */
  readonly positionsFlushErrors: Counter;
  /** certstream_auth_failures_total{reason}: requests refused by access control (missing, unknown, limit, address). */
  readonly authFailures: Counter<'reason'>;
  /** certstream_connections{token}: stream connections open per token NAME (with --tokens). */
  readonly tokenConnections: Gauge<'token'>;
  /** certstream_log_verified_size{log}: largest tree size whose signed root matched our computation. */
  readonly verifiedSize: Gauge<'log'>;
  /** certstream_log_verification_failures_total{log,reason}: reason is signature | root_mismatch | inconsistent. */
  readonly verificationFailures: Counter<'log' | 'reason'>;
  /** certstream_memory_releases_total{kind}: returns of unused memory to the OS (server/memory-release.ts). */
  readonly memoryReleases: Counter<'kind'>;
  /** certstream_memory_release_seconds_total{kind}: the event loop's time in them. */
  readonly memoryReleaseSeconds: Counter<'kind'>;
}

/** The reasons of certstream_auth_failures_total (interface.md, "Access control and TLS"). */
export const AUTH_FAILURE_REASONS = ['missing', 'unknown', 'limit', 'address'] as const;

/**
 * @param options.processMetrics also collect prom-client's process/Node metrics (default true; tests that
 *   create many registries may turn it off).
 */
export function createServerMetrics(options: { processMetrics?: boolean } = {}): ServerMetrics {
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    entries: new Counter({
      name: 'certstream_entries_total',
      help: 'Entries streamed to clients, by log and update type.',
      labelNames: ['log', 'update_type'] as const,
      registers,
    }),
    treeSize: new Gauge({
      name: 'certstream_log_tree_size',
      help: 'Last known tree size (STH or checkpoint) of each followed log.',
      labelNames: ['log'] as const,
      registers,
    }),
    nextIndex: new Gauge({
      name: 'certstream_log_next_index',
      help: 'Index of the next entry to stream, per log.',
      labelNames: ['log'] as const,
      registers,
    }),
    logErrors: new Counter({
      name: 'certstream_log_errors_total',
      help: 'Errors while following logs, by kind (http, rate_limited, parse, timeout).',
      labelNames: ['log', 'kind'] as const,
      registers,
    }),
    clients: new Gauge({
      name: 'certstream_clients',
      help: 'Connected WebSocket clients, by stream (lite, full, domains).',
      labelNames: ['stream'] as const,
      registers,
    }),
    droppedMessages: new Counter({
      name: 'certstream_client_dropped_messages_total',
      help: 'Frames not delivered to clients that were over their byte budget, by stream.',
      labelNames: ['stream'] as const,
      registers,
    }),
    clientDisconnects: new Counter({
      name: 'certstream_client_disconnects_total',
      help: 'WebSocket clients disconnected, by reason.',
      labelNames: ['reason'] as const,
      registers,
    }),
    logListRefreshes: new Counter({
      name: 'certstream_log_list_refreshes_total',
      help: 'Log list loads after start-up, by result (ok, error); a failed one keeps the previous list.',
      labelNames: ['result'] as const,
      registers,
    }),
    logsFollowed: new Gauge({
      name: 'certstream_logs_followed',
      help: 'CT logs currently followed.',
      registers,
    }),
    cursorAhead: new Gauge({
      name: 'certstream_log_cursor_ahead',
      help: "Entries a log's cursor is past its tree head (the log is not followed while > 0; see README).",
      labelNames: ['log'] as const,
      registers,
    }),
    cursorFlushErrors: new Counter({
      name: 'certstream_cursor_flush_errors_total',
      help: 'Failed writes of the cursor file (state directory unwritable or full); retried every flush period.',
      registers,
    }),
    positionsFlushErrors: new Counter({
      name: 'certstream_positions_flush_errors_total',
      help: 'Failed writes of the durable positions (state directory unwritable or full); retried every flush period.',
      registers,
    }),
    authFailures: zeroed(new Counter({
      name: 'certstream_auth_failures_total',
      help: 'Requests and connections refused by access control: missing or unknown token (401), token over its max-connections (429), address not in --allow-from.',
      labelNames: ['reason'] as const,
      registers,
    }), 'reason', AUTH_FAILURE_REASONS),
    tokenConnections: new Gauge({
      name: 'certstream_connections',
      help: 'Stream connections open, by token NAME (--tokens).',
      labelNames: ['token'] as const,
      registers,
    }),
    verifiedSize: new Gauge({
      name: 'certstream_log_verified_size',
      help: "Largest tree size of a log whose signed root matched the root computed from the entries streamed.",
      labelNames: ['log'] as const,
      registers,
    }),
    verificationFailures: new Counter({
      name: 'certstream_log_verification_failures_total',
      help: 'Times a log was caught lying (reason signature, root_mismatch, inconsistent); the log is stopped at its last verified size.',
      labelNames: ['log', 'reason'] as const,
      registers,
    }),
    memoryReleases: zeroed(new Counter({
      name: 'certstream_memory_releases_total',
      help: "Returns of unused memory to the OS: kind c_heap (glibc's free heap pages, every --memory-release-interval), v8_heap (a memory-reducing collection, at rest only).",
      labelNames: ['kind'] as const,
      registers,
    }), 'kind', MEMORY_RELEASE_KINDS),
    memoryReleaseSeconds: zeroed(new Counter({
      name: 'certstream_memory_release_seconds_total',
      help: "The event loop's time in those returns (for v8_heap only the start: the collection runs incrementally).",
      labelNames: ['kind'] as const,
      registers,
    }), 'kind', MEMORY_RELEASE_KINDS),
  };
}

/** The kinds of certstream_memory_releases_total. */
export const MEMORY_RELEASE_KINDS = ['c_heap', 'v8_heap'] as const;

/** Every value of `label` at 0 from start-up, so that rate() and alerts see the series before the first event. */
function zeroed<L extends string>(counter: Counter<L>, label: L, values: readonly string[]): Counter<L> {
  for (const value of values) counter.inc({ [label]: value } as Partial<Record<L, string>>, 0);
  return counter;
}
