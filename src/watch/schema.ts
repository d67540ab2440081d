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
 * - deliveries: one row per (match, webhook URL) until delivered: attempts, next attempt, last error.
 */

/** Current schema version. */
export const SCHEMA_VERSION = 1;

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

/** Migration steps by target version (index 0 brings version 0, an empty database, to 1). */
export function migrations(d: Dialect): string[][] {
  return [schemaV1(d)];
}

/** Columns of a match row, in the order the stores select them. */
export const MATCH_COLUMNS =
  'id, time, domain, rule, log, cert_index, fingerprint, serial, issuer, not_before, not_after, update_type, sighting_of';
