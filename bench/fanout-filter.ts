/**
 * The filtered scenarios of bench:fanout (issue 24 §4), run beside the unfiltered ones with `--filtered N`:
 * N clients with `?match=` rule sets of 100 domain rules each, at the scenario's entry rate —
 * (a) every client its own rule set (no sharing: the worst case), (b) the clients sharing 10 sets.
 * Each set has 99 rules that match nothing and the name of one of the fake log's 64 synthetic
 * certificates (fake-ct-log/synthetic.ts), which are 64 of every 105 entries it serves: a client receives
 * about 1 % of the stream, the server examines every entry. Reported per row: server CPU per entry
 * examined (entries the server streamed in the measured window: on a loaded machine fewer than the rate
 * asks), p99 latency, bytes sent, peak RSS, against the unfiltered row of the same rate (goals:
 * (a) ≤ 2×, (b) ≤ 1.2× its CPU, p99 < 100 ms).
 */
import { syntheticNames } from '../fake-ct-log/synthetic.js';

/** Synthetic certificates in the fake log's corpus (synthesiseCerts' default). */
const SYNTHETIC = 64;

export interface FilterScenario {
  /** Row label. */
  readonly label: string;
  /** The query strings (without `?`) of `clients` clients: client c takes entry c modulo their number. */
  queries(clients: number): string[];
  /** Most CPU per entry examined, as a multiple of the unfiltered row's (the goal). */
  readonly goal: number;
}

/** Rule set `n`: 99 domains no certificate has, and one synthetic certificate's name. */
function ruleSet(n: number): string {
  const rules = Array.from({ length: 99 }, (_, j) => `brand${n}-${j}.example`);
  rules.push(syntheticNames(n % SYNTHETIC)[0]);
  return `match=${encodeURIComponent(rules.join(','))}`;
}

export const FILTER_SCENARIOS: readonly FilterScenario[] = [
  { label: 'filtered, own set each', queries: (clients) => Array.from({ length: clients }, (_, c) => ruleSet(c)), goal: 2 },
  { label: 'filtered, 10 shared sets', queries: () => Array.from({ length: 10 }, (_, s) => ruleSet(s * 6)), goal: 1.2 },
];

/** What the comparison needs of a bench row. */
export interface FilterRowFigures {
  target: string;
  clients: number;
  rate: number;
  cpuSeconds: number;
  /** Entries the server streamed in the measured window: each one examined by the filters. */
  entries: number;
  /** Frames the clients received in the measured window. */
  framesPerSecond: number;
  p99: number;
  bytes: number;
  peakRssMb: number;
}

/**
 * One line per filtered row: server CPU per entry examined (µs), its ratio to the unfiltered row's,
 * p99, bytes sent (received by the clients) and peak RSS; `ok` when the CPU goal and p99 < 100 ms hold.
 */
export function filterSummary(unfiltered: FilterRowFigures, filtered: readonly FilterRowFigures[], seconds: number): string[] {
  const perEntry = (r: FilterRowFigures) => (r.cpuSeconds * 1e6) / Math.max(1, r.entries);
  const sent = (r: FilterRowFigures) => `${Math.round(r.framesPerSecond * seconds)} frames, ${(r.bytes / 1e3).toFixed(0)} kB sent`;
  const lines = [`unfiltered, ${unfiltered.clients} clients × ${unfiltered.rate}/s: ${unfiltered.entries} entries, server CPU ${perEntry(unfiltered).toFixed(1)} µs per entry, p99 ${unfiltered.p99.toFixed(1)} ms, ${sent(unfiltered)}, peak RSS ${unfiltered.peakRssMb.toFixed(0)} MB`];
  filtered.forEach((r, i) => {
    const s = FILTER_SCENARIOS[i];
    const ratio = perEntry(r) / perEntry(unfiltered);
    const ok = ratio <= s.goal && r.p99 < 100;
    lines.push(
      `${s.label}, ${r.clients} clients × ${r.rate}/s: ${r.entries} entries examined, server CPU ${perEntry(r).toFixed(1)} µs per entry = ${ratio.toFixed(2)}× unfiltered (goal ≤ ${s.goal}×), p99 ${r.p99.toFixed(1)} ms (goal < 100), ${sent(r)}, peak RSS ${r.peakRssMb.toFixed(0)} MB: ${ok ? 'ok' : 'MISSED'}`,
    );
  });
  return lines;
}
