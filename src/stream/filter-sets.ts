/**
 * The compiled `match=` rule sets, one per distinct normalised set (filter-rules.ts `key`): clients that
 * send the same rules share one compiled set, one match result per entry and one framed batch per flush
 * (the hub's filtered groups).
 *
 * Live entries are matched against all sets at once: the domain and exact rules of every set are in one
 * NameIndex (value → the sets holding it), so an entry costs one walk over its names' label suffixes
 * whatever the number of sets; only the sets with `~substring` rules also run their own automaton per
 * entry. A durable client's replay matches with its set's own NameMatcher. A set is compiled when its first client comes and released when its last
 * one goes. The number of sets and the rule bytes of all of them together are bounded: a client whose
 * set would pass either is refused (HTTP 503, counted by reason), so that no run of distinct sets can
 * make the server's matching cost or memory grow without bound.
 */
import { Counter, Gauge } from 'prom-client';
import { NameIndex } from '../match/name-index.js';
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
  /** All its rules (replay matches with it). */
  readonly matcher: NameMatcher;
  /** Its substring rules alone, when it has any (the live path's per-set part). */
  readonly substrings: NameMatcher | undefined;
  /** The live entry that last hit it (FilterSets.matching's de-duplication). */
  hitStamp = 0;
  /** Clients using it, per stream (plain and durable). */
  readonly clients: Record<StreamName, number> = { lite: 0, full: 0, domains: 0 };
  /** Its plain (live, non-durable) clients, all streams. */
  readonly plain = new Set<StreamClient>();
  /** This set's frames for the next flush, per stream: matching entries and heartbeats, in order. */
  pending: Record<StreamName, string[]> = { lite: [], full: [], domains: [] };

  constructor(
    readonly key: string,
    readonly bytes: number,
    readonly rules: FilterRules['rules'],
  ) {
    this.matcher = new NameMatcher(rules);
    const substrings = rules.filter((r) => r.kind === 'substring');
    this.substrings = substrings.length > 0 ? new NameMatcher(substrings) : undefined;
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
  /** The domain and exact rules of every set. */
  private readonly index = new NameIndex<FilterSet>();
  /** The sets with substring rules. */
  private readonly withSubstrings = new Set<FilterSet>();
  private stamp = 0;
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
      for (const r of rules.rules) if (r.kind !== 'substring') this.index.add(r.kind, r.value, set);
      if (set.substrings !== undefined) this.withSubstrings.add(set);
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
      for (const r of set.rules) if (r.kind !== 'substring') this.index.remove(r.kind, r.value, set);
      this.withSubstrings.delete(set);
    }
  }

  /**
   * Appends to `out` every set an entry with these normalised names (entryNames) passes, each once.
   */
  matching(names: readonly string[], out: FilterSet[]): void {
    const stamp = ++this.stamp;
    const hit = (set: FilterSet) => {
      if (set.hitStamp === stamp) return;
      set.hitStamp = stamp;
      out.push(set);
    };
    for (const name of names) if (name !== '') this.index.lookup(name, hit);
    for (const set of this.withSubstrings) if (set.hitStamp !== stamp && set.substrings!.matchesAny(names)) hit(set);
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

const DATA_HEAD = '{"data":[';
const DATA_TAIL = '],"message_type"';

/**
 * The normalised names of an entry from its `/domains-only` frame (`{"data":[…],"message_type":…}`):
 * the small frame every entry carries, so the lite and full frames are never parsed for matching.
 */
export function entryNames(domainsFrame: string): string[] {
  // The renderer's form, without escapes (almost every frame): its names are the `","`-separated texts.
  if (domainsFrame.startsWith(DATA_HEAD) && !domainsFrame.includes('\\')) {
    const close = domainsFrame.indexOf(DATA_TAIL, DATA_HEAD.length);
    if (close === DATA_HEAD.length) return [];
    if (close > DATA_HEAD.length) return domainsFrame.slice(DATA_HEAD.length + 1, close - 1).split('","').map(normaliseName);
  }
  const data = (JSON.parse(domainsFrame) as { data?: unknown }).data;
  if (!Array.isArray(data)) return [];
  const names: string[] = [];
  for (const d of data) if (typeof d === 'string') names.push(normaliseName(d));
  return names;
}
