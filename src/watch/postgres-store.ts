/**
 * The PostgreSQL backend of the watch store (`pg`, one pooled connection: the runner is the only
 * writer and calls one method at a time). Each batch is one transaction. Schema creation and
 * migration run under an advisory lock, so two watchers starting on one database do not race.
 */
import pg from 'pg';
import { CertstreamError, describeError } from '../errors.js';
import { MATCH_COLUMNS, SCHEMA_VERSION, migrations } from './schema.js';
import { redactDbUrl, toStoredMatch, type Delivery, type MatchRow, type RecordResult, type StoredMatch, type WatchStore } from './store.js';

/** Arbitrary constant of the advisory lock that serialises schema migrations. */
const MIGRATION_LOCK = 0x63657274; // 'cert'

export class PostgresStore implements WatchStore {
  readonly kind = 'postgres';
  readonly location: string;
  private readonly pool: pg.Pool;

  private constructor(url: string, pool: pg.Pool) {
    this.location = redactDbUrl(url);
    this.pool = pool;
  }

  /**
   * Connects (10 s timeout), then creates or migrates the schema.
   * @throws CertstreamError WATCH_ERR_DB
   */
  static async open(url: string): Promise<PostgresStore> {
    const pool = new pg.Pool({
      connectionString: url,
      max: 2,
      connectionTimeoutMillis: 10_000,
      // A statement that hangs (a locked table, a dead server behind a proxy) must not hang the watcher.
      statement_timeout: 30_000,
      query_timeout: 35_000,
    });
    // An idle connection dying (server restart) must not crash the process; the next query reconnects.
    pool.on('error', () => undefined);
    try {
      const c = await pool.connect();
      try {
        await c.query('BEGIN');
        await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
        await c.query('CREATE TABLE IF NOT EXISTS watch_meta (version INTEGER NOT NULL)');
        const r = await c.query<{ version: number }>('SELECT version FROM watch_meta');
        const from = r.rows[0]?.version ?? 0;
        if (from > SCHEMA_VERSION) {
          throw new CertstreamError('WATCH_ERR_DB', `schema version ${from} was written by a newer certstream-watch (this one knows ${SCHEMA_VERSION})`);
        }
        const steps = migrations('postgres');
        for (let v = from; v < SCHEMA_VERSION; v++) for (const sql of steps[v]) await c.query(sql);
        if (r.rows.length > 0) await c.query('UPDATE watch_meta SET version = $1', [SCHEMA_VERSION]);
        else await c.query('INSERT INTO watch_meta (version) VALUES ($1)', [SCHEMA_VERSION]);
        await c.query('COMMIT');
      } catch (err) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        c.release();
      }
    } catch (err) {
      await pool.end().catch(() => undefined);
      if (err instanceof CertstreamError) throw err;
      throw new CertstreamError('WATCH_ERR_DB', `postgres ${redactDbUrl(url)}: ${describeError(err)}`, { cause: err });
    }
    return new PostgresStore(url, pool);
  }

  async record(rows: readonly MatchRow[], webhooks: readonly string[]): Promise<RecordResult> {
    const result: RecordResult = { inserted: [], alerting: 0, duplicates: 0 };
    if (rows.length === 0) return result;
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      for (const r of rows) {
        const got = await c.query<{ id: string }>(
          `INSERT INTO matches (time, domain, rule, log, cert_index, fingerprint, serial, issuer, not_before, not_after, update_type)
           VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11) ON CONFLICT DO NOTHING RETURNING id`,
          [r.time, r.domain, r.rule, r.log, r.certIndex, r.fingerprint, r.serial, r.issuer, r.notBefore, r.notAfter, r.updateType],
        );
        if (got.rows.length === 0) {
          result.duplicates++;
          continue;
        }
        const id = Number(got.rows[0].id);
        let first: number | undefined;
        if (r.serial !== '') {
          const f = await c.query<{ id: string }>(
            'SELECT id FROM matches WHERE serial = $1 AND issuer = $2 AND domain = $3 AND rule = $4 AND sighting_of IS NULL AND id <> $5 ORDER BY id LIMIT 1',
            [r.serial, r.issuer, r.domain, r.rule, id],
          );
          if (f.rows.length > 0) first = Number(f.rows[0].id);
        }
        if (first !== undefined) await c.query('UPDATE matches SET sighting_of = $1 WHERE id = $2', [first, id]);
        else {
          result.alerting++;
          for (const url of webhooks) {
            await c.query('INSERT INTO deliveries (match_id, url, next_at) VALUES ($1,$2,$3) ON CONFLICT DO NOTHING', [id, url, r.time]);
          }
        }
        result.inserted.push({ ...r, id, sightingOf: first ?? null });
      }
      await c.query('COMMIT');
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw new CertstreamError('WATCH_ERR_DB', `postgres ${this.location}: storing ${rows.length} matches: ${describeError(err)}`, { cause: err });
    } finally {
      c.release();
    }
    return result;
  }

  private async q<T extends pg.QueryResultRow>(sql: string, params: unknown[]): Promise<T[]> {
    try {
      return (await this.pool.query<T>(sql, params)).rows;
    } catch (err) {
      throw new CertstreamError('WATCH_ERR_DB', `postgres ${this.location}: ${describeError(err)}`, { cause: err });
    }
  }

  async dueDeliveries(urls: readonly string[], now: number, limit: number): Promise<Delivery[]> {
    if (urls.length === 0) return [];
    const cols = MATCH_COLUMNS.split(', ').map((c) => `m.${c}`).join(', ');
    const rows = await this.q<Record<string, unknown>>(
      `SELECT d.url AS d_url, d.attempts AS d_attempts, ${cols}
       FROM deliveries d JOIN matches m ON m.id = d.match_id
       WHERE d.delivered_at IS NULL AND d.next_at <= $1 AND d.url = ANY($2)
       ORDER BY d.match_id LIMIT $3`,
      [now, urls, limit],
    );
    return rows.map((r) => ({ matchId: Number(r.id), url: String(r.d_url), attempts: Number(r.d_attempts), match: toStoredMatch(r) }));
  }

  async nextDue(urls: readonly string[]): Promise<number | undefined> {
    if (urls.length === 0) return undefined;
    const rows = await this.q<{ t: number | null }>('SELECT MIN(next_at) AS t FROM deliveries WHERE delivered_at IS NULL AND url = ANY($1)', [urls]);
    return rows[0]?.t ?? undefined;
  }

  async markDelivered(matchId: number, url: string, now: number): Promise<void> {
    await this.q('UPDATE deliveries SET delivered_at = $1, attempts = attempts + 1, last_error = NULL WHERE match_id = $2 AND url = $3', [now, matchId, url]);
  }

  async markFailed(matchId: number, url: string, attempts: number, nextAt: number, error: string): Promise<void> {
    await this.q('UPDATE deliveries SET attempts = $1, next_at = $2, last_error = $3 WHERE match_id = $4 AND url = $5', [attempts, nextAt, error, matchId, url]);
  }

  async pendingCount(): Promise<number> {
    const rows = await this.q<{ n: string }>('SELECT COUNT(*) AS n FROM deliveries WHERE delivered_at IS NULL', []);
    return Number(rows[0].n);
  }

  async pendingByUrl(): Promise<Map<string, number>> {
    const rows = await this.q<{ url: string; n: string }>('SELECT url, COUNT(*) AS n FROM deliveries WHERE delivered_at IS NULL GROUP BY url', []);
    return new Map(rows.map((r) => [r.url, Number(r.n)]));
  }

  async exportPage(since: number | undefined, afterId: number, limit: number): Promise<StoredMatch[]> {
    const rows = await this.q<Record<string, unknown>>(
      `SELECT ${MATCH_COLUMNS} FROM matches WHERE time >= $1 AND id > $2 ORDER BY id LIMIT $3`,
      [since ?? 0, afterId, limit],
    );
    return rows.map(toStoredMatch);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
