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
import { redactUrl } from './redact.js';

/** A match as recorded. Times are epoch seconds. */
export interface MatchRow {
  /** When the watcher recorded it. */
  time: number;
  /** The name in ASCII (punycode) form (names.ts `asciiName`): the identity of the match. */
  domain: string;
  /** The decoded name, for display (default: `domain`). */
  domainUnicode?: string;
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
  /** Every name of the certificate in ASCII form, space-separated (for hooks; '' when unknown). */
  dnsNames?: string;
  /** `subject.aggregated` of the certificate ('' when unknown). */
  subject?: string;
  /** SHA-256 of the leaf's DER, lower-case hex ('' when the feed did not carry the DER). */
  certSha256?: string;
}

/** A stored match (with its id, and the id of the match it is a sighting of). */
export interface StoredMatch extends MatchRow {
  id: number;
  sightingOf: number | null;
  domainUnicode: string;
  dnsNames: string;
  subject: string;
  certSha256: string;
}

/** A pending delivery with its match. `url` is the target: a webhook URL, or `hook:PATH`. */
export interface Delivery {
  matchId: number;
  url: string;
  attempts: number;
  match: StoredMatch;
}

/** A delivery that became a dead letter. */
export interface DeadLetter extends Delivery {
  /** When it was given up, epoch s. */
  deadAt: number;
  lastError: string;
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
  /** Records a batch of matches and their deliveries (one per target) in one transaction. */
  record(rows: readonly MatchRow[], targets: readonly string[]): Promise<RecordResult>;
  /**
   * Pending deliveries (neither delivered nor dead) to `urls` whose next attempt is due at `now`
   * (epoch s), in match order.
   */
  dueDeliveries(urls: readonly string[], now: number, limit: number): Promise<Delivery[]>;
  /** Earliest next attempt (epoch s) of a pending delivery to `urls`, or undefined when none is pending. */
  nextDue(urls: readonly string[]): Promise<number | undefined>;
  markDelivered(matchId: number, url: string, now: number): Promise<void>;
  markFailed(matchId: number, url: string, attempts: number, nextAt: number, error: string): Promise<void>;
  /** Makes a delivery a dead letter: kept with its last error, never attempted again. */
  markDead(matchId: number, url: string, attempts: number, now: number, error: string): Promise<void>;
  /** Pending deliveries (neither delivered nor dead), for metrics. */
  pendingCount(): Promise<number>;
  /** Pending deliveries per target (targets removed from the configuration keep theirs). */
  pendingByUrl(): Promise<Map<string, number>>;
  /** Up to `limit` dead letters after the (match id, target) `after`, in that order. */
  deadLetterPage(after: { matchId: number; url: string }, limit: number): Promise<DeadLetter[]>;
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
    domainUnicode: r.domain_unicode === null || r.domain_unicode === undefined ? String(r.domain) : String(r.domain_unicode),
    dnsNames: r.dns_names === null || r.dns_names === undefined ? '' : String(r.dns_names),
    subject: r.subject === null || r.subject === undefined ? '' : String(r.subject),
    certSha256: r.cert_sha256 === null || r.cert_sha256 === undefined ? '' : String(r.cert_sha256),
  };
}

/** A recorded row as a StoredMatch (the optional fields filled in). */
export function stored(r: MatchRow, id: number, sightingOf: number | null): StoredMatch {
  return {
    ...r, id, sightingOf, domainUnicode: r.domainUnicode ?? r.domain, dnsNames: r.dnsNames ?? '', subject: r.subject ?? '', certSha256: r.certSha256 ?? '',
  };
}

/** A selected dead-letter row (`d_` columns of the delivery, then the match). */
export function toDeadLetter(r: Record<string, unknown>): DeadLetter {
  return {
    matchId: Number(r.id), url: String(r.d_url), attempts: Number(r.d_attempts), deadAt: Number(r.d_dead_at),
    lastError: r.d_last_error === null || r.d_last_error === undefined ? '' : String(r.d_last_error), match: toStoredMatch(r),
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
      throw new CertstreamError('WATCH_ERR_CONFIG', `--db '${redactUrl(v)}' is not a valid PostgreSQL URL`);
    }
    if (u.hostname === '' && !u.searchParams.has('host')) {
      throw new CertstreamError('WATCH_ERR_CONFIG', `--db '${redactUrl(v)}': a PostgreSQL URL needs a host (postgres://user@host:5432/db)`);
    }
    return { kind: 'postgres', url: v };
  }
  if (/^sqlite:/i.test(v)) {
    let p = v.slice('sqlite:'.length);
    if (p.startsWith('//')) p = p.slice(2);
    if (p === '' || p === '/') throw new CertstreamError('WATCH_ERR_CONFIG', `--db '${v}': sqlite: needs a file path (sqlite:./state/watch.sqlite)`);
    return { kind: 'sqlite', path: isAbsolute(p) ? p : resolve(cwd, p) };
  }
  throw new CertstreamError('WATCH_ERR_CONFIG', `--db '${redactUrl(v)}': expected sqlite:PATH or postgres://…`);
}

/** The URL without its user-info and query string (redact.ts), for logs and errors. */
export function redactDbUrl(url: string): string {
  return redactUrl(url);
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
