/**
 * The replay window's own metrics, on the registry it is given (the server's, never the global one).
 * Looked up before being created, so that a window reopened on the same registry (tests, a restart in
 * process) and another window implementation can count into the same series.
 */
import { Counter, type Registry } from 'prom-client';

export interface WindowMetrics {
  /** certstream_replay_window_corrupt_records_total */
  readonly corruptRecords: { inc(n?: number): void };
}

export const CORRUPT_RECORDS_METRIC = 'certstream_replay_window_corrupt_records_total';

/** The window's counters on `registry`; counters that count nowhere when there is none (tests). */
export function windowMetrics(registry: Registry | undefined): WindowMetrics {
  if (registry === undefined) return { corruptRecords: { inc: () => undefined } };
  const corruptRecords = (registry.getSingleMetric(CORRUPT_RECORDS_METRIC) as Counter | undefined) ?? new Counter({
    name: CORRUPT_RECORDS_METRIC,
    help: 'Replay window records found damaged (CRC or length wrong) and skipped, never sent.',
    registers: [registry],
  });
  return { corruptRecords };
}
