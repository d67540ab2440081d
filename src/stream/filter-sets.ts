/**
 * The compiled `match=` rule sets, one per distinct normalised set (filter-rules.ts `key`): clients that
 * send the same rules share one NameMatcher, one match result per entry and one framed batch per flush
 * (the hub's filtered groups). A set is compiled when its first client comes and released when its last
 * one goes. The number of sets and the rule bytes of all of them together are bounded: a client whose
 * set would pass either is refused (HTTP 503, counted by reason), so that no run of distinct sets can
 * make the server's matching cost or memory grow without bound.
 */
import { Counter, Gauge } from 'prom-client';
import { NameMatcher } from '../match/name-matcher.js';
import { normaliseName } from '../match/name-rule.js';
import type { ServerMetrics } from '../metrics/server-metrics.js';
import type { FilterRules } from './filter-rules.js';
import type { StreamClient } from './stream-client.js';
import { STREAM_NAMES, type StreamName } from './stream-paths.js';

/** Default bound on distinct rule sets compiled at once. */
export const DEFAULT_MAX_FILTER_SETS = 10_000;
/** Default bound on the normalised rule bytes of all compiled sets together (32 MiB: 2,048 sets of the largest size). */
export const DEFAULT_MAX_FILTER_BYTES = 32 * 1024 * 1024;

/** Why a new rule set was refused: too many sets, or too many rule bytes. */
export const FILTER_REFUSALS = ['sets', 'bytes'] as const;
export type FilterRefusal = (typeof FILTER_REFUSALS)[number];

/** One compiled rule set and its users. */
export class FilterSet {
  readonly matcher: NameMatcher;
  /** Clients using it, per stream (plain and durable). */
  readonly clients: Record<StreamName, number> = { lite: 0, full: 0, domains: 0 };
  /** Its plain (live, non-durable) clients, all streams. */
  readonly plain = new Set<StreamClient>();
  /** This set's frames for the next flush, per stream: matching entries and heartbeats, in order. */
  pending: Record<StreamName, string[]> = { lite: [], full: [], domains: [] };

  constructor(
    readonly key: string,
    readonly bytes: number,
    rules: FilterRules['rules'],
  ) {
    this.matcher = new NameMatcher(rules);
  }

  /** Clients of all streams. */
  get users(): number {
    return this.clients.lite + this.clients.full + this.clients.domains;
  }

  /** Whether an entry with these normalised names (entryNames) passes the set. */
  matches(names: readonly string[]): boolean {
    return this.matcher.matchesAny(names);
  }
}

export interface FilterSetsOptions {
  metrics: ServerMetrics;
  /** Most distinct sets at once (default DEFAULT_MAX_FILTER_SETS). */
  maxSets?: number;
  /** Most normalised rule bytes of all sets together (default DEFAULT_MAX_FILTER_BYTES). */
  maxBytes?: number;
}

export class FilterSets {
  private readonly sets = new Map<string, FilterSet>();
  private bytes = 0;
  private readonly refused: Counter<'reason'>;
  /** certstream_filter_entries_matched_total: entries that passed at least one set. */
  readonly matched: Counter;
  private readonly filteredClients: Gauge<'stream'>;

  constructor(private readonly options: FilterSetsOptions) {
    const registers = [options.metrics.registry];
    const sets = this.sets;
    new Gauge({
      name: 'certstream_filter_sets',
      help: 'Distinct match= rule sets compiled (clients with the same rules share one).',
      registers,
      collect() {
        this.set(sets.size);
      },
    });
    this.filteredClients = new Gauge({
      name: 'certstream_filtered_clients',
      help: 'Connected clients with a match= filter, by stream (included in certstream_clients).',
      labelNames: ['stream'] as const,
      registers,
    });
    this.matched = new Counter({
      name: 'certstream_filter_entries_matched_total',
      help: 'Entries that matched at least one compiled match= rule set.',
      registers,
    });
    this.refused = new Counter({
      name: 'certstream_filter_refused_total',
      help: 'Stream requests refused (HTTP 503) because their new rule set would pass the bound on sets or on rule bytes, by reason.',
      labelNames: ['reason'] as const,
      registers,
    });
    for (const stream of STREAM_NAMES) this.filteredClients.set({ stream }, 0);
    for (const reason of FILTER_REFUSALS) this.refused.inc({ reason }, 0);
    this.matched.inc(0);
  }

  /** Number of compiled sets. */
  get size(): number {
    return this.sets.size;
  }

  values(): IterableIterator<FilterSet> {
    return this.sets.values();
  }

  /**
   * The compiled set for `rules`, with one more client of `stream`: the shared one when a client already
   * uses the same normalised set, else a new one — or the reason it would pass a bound (counted).
   */
  acquire(rules: FilterRules, stream: StreamName): FilterSet | { refused: string } {
    let set = this.sets.get(rules.key);
    if (set === undefined) {
      const refused = this.refusal(rules);
      if (refused !== undefined) return { refused };
      set = new FilterSet(rules.key, rules.bytes, rules.rules);
      this.sets.set(rules.key, set);
      this.bytes += rules.bytes;
    }
    set.clients[stream]++;
    this.filteredClients.inc({ stream });
    return set;
  }

  /** One client of `stream` left `set`; the set is released with its last client. */
  release(set: FilterSet, stream: StreamName): void {
    set.clients[stream]--;
    this.filteredClients.dec({ stream });
    if (set.users === 0 && this.sets.get(set.key) === set) {
      this.sets.delete(set.key);
      this.bytes -= set.bytes;
    }
  }

  /**
   * Why a client with `rules` cannot be served now (counted), or undefined: a set already compiled is
   * always shared; a new one must fit both bounds.
   */
  refusal(rules: FilterRules): string | undefined {
    if (this.sets.has(rules.key)) return undefined;
    const maxSets = this.options.maxSets ?? DEFAULT_MAX_FILTER_SETS;
    const maxBytes = this.options.maxBytes ?? DEFAULT_MAX_FILTER_BYTES;
    if (this.sets.size >= maxSets) return this.refuse('sets', `the server holds ${maxSets} distinct match rule sets, its most; retry later or use a rule set other clients use`);
    if (this.bytes + rules.bytes > maxBytes) return this.refuse('bytes', `the server's match rule sets hold ${this.bytes} of their ${maxBytes} bytes; retry later or use a rule set other clients use`);
    return undefined;
  }

  private refuse(reason: FilterRefusal, why: string): string {
    this.refused.inc({ reason });
    return why;
  }
}

/**
 * The normalised names of an entry from its `/domains-only` frame (`{"data":[…],"message_type":…}`):
 * the small frame every entry carries, so the lite and full frames are never parsed for matching.
 */
export function entryNames(domainsFrame: string): string[] {
  const data = (JSON.parse(domainsFrame) as { data?: unknown }).data;
  if (!Array.isArray(data)) return [];
  const names: string[] = [];
  for (const d of data) if (typeof d === 'string') names.push(normaliseName(d));
  return names;
}
