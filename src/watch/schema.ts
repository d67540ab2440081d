/**
 * The one schema of the watch store, in the two SQL dialects (they differ only in the id column and
 * the float type). `SCHEMA_VERSION` is kept in `watch_meta`; a store opened by an older version is
 * migrated at start by running the steps after its version, a store written by a newer version is
 * refused (its layout is unknown to this one).
 *
 * Tables:
 * - matches: one row per (log, cert_index, domain, rule); `time` is when the watcher recorded it (epoch
 *   seconds, the `--since` of export); `sighting_of` points at the match of the precertificate or
 *   certificate with the same serial and issuer that alerted first.
 * - deliveries: one row per (match, target) — a webhook URL, or `hook:PATH` — until delivered: attempts,
 *   next attempt, last error; `dead_at` once it became a dead letter (kept, never retried).
 *
 * Version 2 keeps names in two forms: `domain` is the ASCII (punycode) form, the identity of a match
 * and what goes into headers, `domain_unicode` the decoded form for display. Version 1 stored the
 * decoded form in `domain`; the migration moves it to `domain_unicode` and writes the ASCII form
 * (a step in code, `asciiName`, after the SQL of version 2). It also adds what a hook is given
 * (`dns_names`, `subject`, `cert_sha256`) and dead letters.
 */

import { asciiName, displayName } from './names.js';

/** Current schema version. */
export const SCHEMA_VERSION = 2;

type Dialect = 'sqlite' | 'postgres';

/** The statements that bring an empty database to version 1. */
export function schemaV1(d: Dialect): string[] {
  const id = d === 'sqlite' ? 'INTEGER PRIMARY KEY AUTOINCREMENT' : 'BIGSERIAL PRIMARY KEY';
  const real = d === 'sqlite' ? 'REAL' : 'DOUBLE PRECISION';
  const big = d === 'sqlite' ? 'INTEGER' : 'BIGINT';
  return [
    `CREATE TABLE IF NOT EXISTS matches (
      id ${id},
      time ${real} NOT NULL,
      domain TEXT NOT NULL,
      rule TEXT NOT NULL,
      log TEXT NOT NULL,
      cert_index ${big} NOT NULL,
      fingerprint TEXT NOT NULL,
      serial TEXT NOT NULL,
      issuer TEXT NOT NULL,
      not_before ${big},
      not_after ${big},
      update_type TEXT NOT NULL,
      sighting_of ${big} REFERENCES matches(id),
      UNIQUE (log, cert_index, domain, rule)
    )`,
    // export --since
    'CREATE INDEX IF NOT EXISTS matches_time ON matches (time, id)',
    // pairing a precertificate with its certificate
    'CREATE INDEX IF NOT EXISTS matches_cert ON matches (serial, issuer, domain, rule)',
    `CREATE TABLE IF NOT EXISTS deliveries (
      match_id ${big} NOT NULL REFERENCES matches(id),
      url TEXT NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0,
      next_at ${real} NOT NULL,
      delivered_at ${real},
      last_error TEXT,
      PRIMARY KEY (match_id, url)
    )`,
    'CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (next_at) WHERE delivered_at IS NULL',
  ];
}

/** The statements that bring version 1 to 2 (then the stores rewrite the names: `renameToAscii`). */
export function schemaV2(d: Dialect): string[] {
  const real = d === 'sqlite' ? 'REAL' : 'DOUBLE PRECISION';
  return [
    'ALTER TABLE matches ADD COLUMN domain_unicode TEXT',
    'ALTER TABLE matches ADD COLUMN dns_names TEXT',
    'ALTER TABLE matches ADD COLUMN subject TEXT',
    'ALTER TABLE matches ADD COLUMN cert_sha256 TEXT',
    `ALTER TABLE deliveries ADD COLUMN dead_at ${real}`,
    'DROP INDEX IF EXISTS deliveries_due',
    // one target's queue: its pending rows in match order
    'CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (url, match_id) WHERE delivered_at IS NULL AND dead_at IS NULL',
    'CREATE INDEX IF NOT EXISTS deliveries_dead ON deliveries (match_id) WHERE dead_at IS NOT NULL',
  ];
}

/** Migration steps by target version (index 0 brings version 0, an empty database, to 1). */
export function migrations(d: Dialect): string[][] {
  return [schemaV1(d), schemaV2(d)];
}

/**
 * The rows the version-2 migration rewrites: each stored (decoded) name whose ASCII form differs, with
 * both forms. Names that were ASCII already keep `domain` and get `domain_unicode` by SQL.
 */
export function renameToAscii(rows: readonly { id: number; domain: string }[]): { id: number; ascii: string; unicode: string }[] {
  const out: { id: number; ascii: string; unicode: string }[] = [];
  for (const r of rows) {
    const ascii = asciiName(r.domain);
    if (ascii !== r.domain) out.push({ id: r.id, ascii, unicode: displayName(r.domain) });
  }
  return out;
}

/** Columns of a match row, in the order the stores select them. */
export const MATCH_COLUMNS =
  'id, time, domain, rule, log, cert_index, fingerprint, serial, issuer, not_before, not_after, update_type, sighting_of, ' +
  'domain_unicode, dns_names, subject, cert_sha256';
