/**
 * The match store of certstream-watch: one interface, two implementations (SQLite embedded, the
 * default; PostgreSQL), one schema (schema.ts). `parseDbUrl` is pure; `openStore` picks the backend.
 *
 * Semantics both backends keep:
 * - a match is stored once: (log, cert_index, domain, rule) is unique, so a frame replayed after a
 *   reconnect or a restart (durable subscriptions repeat the unconfirmed tail) is ignored;
 * - a precertificate and its final certificate (same serial and issuer) alert once: the later one is
 *   stored as a *sighting* of the first (`sighting_of`) and gets no delivery;
 * - every new, non-sighting match gets one pending delivery row per webhook URL, in the same
 *   transaction as the match, so a crash can lose neither.
 */
import { isAbsolute, resolve } from 'node:path';
import { CertstreamError } from '../errors.js';

/** A match as recorded. Times are epoch seconds. */
export interface MatchRow {
  /** When the watcher recorded it. */
  time: number;
  domain: string;
  /** The rule as written in the watch file. */
  rule: string;
  log: string;
  certIndex: number;
  fingerprint: string;
  serial: string;
  issuer: string;
  notBefore: number | null;
  notAfter: number | null;
  updateType: string;
}

/** A stored match (with its id, and the id of the match it is a sighting of). */
export interface StoredMatch extends MatchRow {
  id: number;
  sightingOf: number | null;
}

/** A pending webhook delivery with its match. */
export interface Delivery {
  matchId: number;
  url: string;
  attempts: number;
  match: StoredMatch;
}

/** What `record` did with a batch. */
export interface RecordResult {
  /** Matches stored for the first time. */
  inserted: StoredMatch[];
  /** Of those, the ones that alert (not sightings). */
  alerting: number;
  /** Rows ignored because they were already stored. */
  duplicates: number;
}

/** The store both backends implement. Methods are called one at a time by the runner. */
export interface WatchStore {
  readonly kind: 'sqlite' | 'postgres';
  /** A printable location (path, or the URL without password). */
  readonly location: string;
  /** Records a batch of matches and their deliveries in one transaction. */
  record(rows: readonly MatchRow[], webhooks: readonly string[]): Promise<RecordResult>;
  /** Deliveries to `urls` not yet delivered whose next attempt is due at `now` (epoch s), in match order. */
  dueDeliveries(urls: readonly string[], now: number, limit: number): Promise<Delivery[]>;
  /** Earliest next attempt (epoch s) of a pending delivery to `urls`, or undefined when none is pending. */
  nextDue(urls: readonly string[]): Promise<number | undefined>;
  markDelivered(matchId: number, url: string, now: number): Promise<void>;
  markFailed(matchId: number, url: string, attempts: number, nextAt: number, error: string): Promise<void>;
  /** Pending (undelivered) deliveries, for metrics. */
  pendingCount(): Promise<number>;
  /** Pending deliveries per webhook URL (URLs removed from the configuration keep theirs). */
  pendingByUrl(): Promise<Map<string, number>>;
  /** Up to `limit` matches recorded at or after `since` (epoch s) with id > `afterId`, by id. */
  exportPage(since: number | undefined, afterId: number, limit: number): Promise<StoredMatch[]>;
  close(): Promise<void>;
}

/** A selected row as a StoredMatch (shared with the PostgreSQL backend, whose BIGINTs come as strings). */
export function toStoredMatch(r: Record<string, unknown>): StoredMatch {
  const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return {
    id: Number(r.id),
    time: Number(r.time),
    domain: String(r.domain),
    rule: String(r.rule),
    log: String(r.log),
    certIndex: Number(r.cert_index),
    fingerprint: String(r.fingerprint),
    serial: String(r.serial),
    issuer: String(r.issuer),
    notBefore: num(r.not_before),
    notAfter: num(r.not_after),
    updateType: String(r.update_type),
    sightingOf: num(r.sighting_of),
  };
}

/** What a --db URL names. */
export type DbSpec = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

/** Default of --db. */
export const DEFAULT_DB = 'sqlite:./state/watch.sqlite';

/**
 * Parses a --db value: `sqlite:PATH` (relative to `cwd`; `sqlite:///abs` and `sqlite:/abs` too) or
 * `postgres://…` / `postgresql://…`.
 * @throws CertstreamError WATCH_ERR_CONFIG with one line saying what is wrong
 */
export function parseDbUrl(value: string, cwd = process.cwd()): DbSpec {
  const v = value.trim();
  if (/^postgres(ql)?:\/\//i.test(v)) {
    let u: URL;
    try {
      u = new URL(v);
    } catch {
      throw new CertstreamError('WATCH_ERR_CONFIG', `--db '${v}' is not a valid PostgreSQL URL`);
    }
    if (u.hostname === '' && !u.searchParams.has('host')) {
      throw new CertstreamError('WATCH_ERR_CONFIG', `--db '${v}': a PostgreSQL URL needs a host (postgres://user@host:5432/db)`);
    }
    return { kind: 'postgres', url: v };
  }
  if (/^sqlite:/i.test(v)) {
    let p = v.slice('sqlite:'.length);
    if (p.startsWith('//')) p = p.slice(2);
    if (p === '' || p === '/') throw new CertstreamError('WATCH_ERR_CONFIG', `--db '${v}': sqlite: needs a file path (sqlite:./state/watch.sqlite)`);
    return { kind: 'sqlite', path: isAbsolute(p) ? p : resolve(cwd, p) };
  }
  throw new CertstreamError('WATCH_ERR_CONFIG', `--db '${v}': expected sqlite:PATH or postgres://…`);
}

/** The URL without its password, for logs. */
export function redactDbUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

/**
 * Opens (creating or migrating the schema) the store a DbSpec names. The drivers are loaded only
 * for the backend used.
 * @throws CertstreamError WATCH_ERR_DB_UNAVAILABLE when PostgreSQL cannot be reached or refuses,
 *   WATCH_ERR_DB when the database cannot be opened or migrated otherwise
 */
export async function openStore(spec: DbSpec): Promise<WatchStore> {
  if (spec.kind === 'sqlite') {
    const { SqliteStore } = await import('./sqlite-store.js');
    return SqliteStore.open(spec.path);
  }
  const { PostgresStore } = await import('./postgres-store.js');
  return PostgresStore.open(spec.url);
}
