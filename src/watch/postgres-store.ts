/**
 * The PostgreSQL backend of the watch store (`pg`, one pooled connection: the runner is the only
 * writer and calls one method at a time). Each batch is one transaction. Schema creation and
 * migration run under an advisory lock, so two watchers starting on one database do not race.
 */
import pg from 'pg';
import { CertstreamError, describeError } from '../errors.js';
import { MATCH_COLUMNS, SCHEMA_VERSION, migrations, renameToAscii } from './schema.js';
import {
  redactDbUrl, stored, toDeadLetter, toStoredMatch, type DeadLetter, type Delivery, type MatchRow, type RecordResult, type StoredMatch, type WatchStore,
} from './store.js';

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
   * @throws CertstreamError WATCH_ERR_DB_UNAVAILABLE when PostgreSQL cannot be reached or refuses,
   *   WATCH_ERR_DB when the schema was written by a newer certstream-watch
   */
  static async open(url: string): Promise<PostgresStore> {
    const pool = new pg.Pool({
      connectionString: url,
      // The runner's transaction, and one query per delivery target at a time.
      max: 4,
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
        for (let v = from; v < SCHEMA_VERSION; v++) {
          for (const sql of steps[v]) await c.query(sql);
          if (v + 1 === 2) {
            const old = await c.query<{ id: string; domain: string }>('SELECT id, domain FROM matches');
            const renamed = renameToAscii(old.rows.map((r) => ({ id: Number(r.id), domain: r.domain })));
            if (renamed.length > 0) {
              await c.query(
                `UPDATE matches m SET domain = u.ascii, domain_unicode = u.uni FROM unnest($1::int8[], $2::text[], $3::text[]) AS u(id, ascii, uni)
                 WHERE m.id = u.id`,
                [renamed.map((r) => r.id), renamed.map((r) => r.ascii), renamed.map((r) => r.unicode)],
              );
            }
            await c.query('UPDATE matches SET domain_unicode = domain WHERE domain_unicode IS NULL');
          }
        }
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
      throw new CertstreamError('WATCH_ERR_DB_UNAVAILABLE', `postgres ${redactDbUrl(url)}: ${describeError(err)}`, { cause: err });
    }
    return new PostgresStore(url, pool);
  }

  /**
   * Set-based, three statements whatever the batch size (a row-by-row loop costs a round trip per
   * statement: ~150 rows/s on a loaded machine). Rows are inserted in batch order, so ids follow it; a
   * row's pair is the lowest id with its serial, issuer, name and rule, which is never a sighting itself.
   */
  async record(rows: readonly MatchRow[], targets: readonly string[]): Promise<RecordResult> {
    const result: RecordResult = { inserted: [], alerting: 0, duplicates: 0 };
    if (rows.length === 0) return result;
    const col = <K extends keyof MatchRow>(k: K) => rows.map((r) => r[k]);
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      const ins = await c.query<{ id: string; log: string; cert_index: string; domain: string; rule: string }>(
        `INSERT INTO matches (time, domain, rule, log, cert_index, fingerprint, serial, issuer, not_before, not_after, update_type,
                            domain_unicode, dns_names, subject, cert_sha256)
         SELECT t.tm, t.dom, t.rl, t.lg, t.ci, t.fp, t.sn, t.iss, t.nb, t.na, t.ut, t.du, t.dn, t.sj, t.cs
         FROM unnest($1::float8[], $2::text[], $3::text[], $4::text[], $5::int8[], $6::text[], $7::text[], $8::text[], $9::int8[], $10::int8[], $11::text[],
                     $12::text[], $13::text[], $14::text[], $15::text[])
           WITH ORDINALITY AS t(tm, dom, rl, lg, ci, fp, sn, iss, nb, na, ut, du, dn, sj, cs, ord)
         ORDER BY t.ord
         ON CONFLICT DO NOTHING RETURNING id, log, cert_index, domain, rule`,
        [col('time'), col('domain'), col('rule'), col('log'), col('certIndex'), col('fingerprint'), col('serial'), col('issuer'),
          col('notBefore'), col('notAfter'), col('updateType'), rows.map((r) => r.domainUnicode ?? r.domain), rows.map((r) => r.dnsNames ?? ''),
          rows.map((r) => r.subject ?? ''), rows.map((r) => r.certSha256 ?? '')],
      );
      const ids = ins.rows.map((r) => Number(r.id));
      const pairs = new Map<number, number>();
      if (ids.length > 0) {
        const upd = await c.query<{ id: string; sighting_of: string }>(
          `UPDATE matches m SET sighting_of = f.first
           FROM (SELECT n.id, (SELECT min(o.id) FROM matches o
                               WHERE o.serial = n.serial AND o.issuer = n.issuer AND o.domain = n.domain AND o.rule = n.rule AND o.id < n.id) AS first
                 FROM matches n WHERE n.id = ANY($1::int8[]) AND n.serial <> '') f
           WHERE m.id = f.id AND f.first IS NOT NULL
           RETURNING m.id, m.sighting_of`,
          [ids],
        );
        for (const r of upd.rows) pairs.set(Number(r.id), Number(r.sighting_of));
      }
      const byKey = new Map(rows.map((r) => [`${r.log}\u0000${r.certIndex}\u0000${r.domain}\u0000${r.rule}`, r]));
      const alerting: { id: number; time: number }[] = [];
      for (const r of ins.rows) {
        const row = byKey.get(`${r.log}\u0000${Number(r.cert_index)}\u0000${r.domain}\u0000${r.rule}`)!;
        const id = Number(r.id);
        const first = pairs.get(id);
        if (first === undefined) alerting.push({ id, time: row.time });
        result.inserted.push(stored(row, id, first ?? null));
      }
      result.inserted.sort((a, b) => a.id - b.id);
      result.alerting = alerting.length;
      result.duplicates = rows.length - ins.rows.length;
      if (alerting.length > 0 && targets.length > 0) {
        await c.query(
          `INSERT INTO deliveries (match_id, url, next_at)
           SELECT a.id, u.url, a.t FROM unnest($1::int8[], $2::float8[]) AS a(id, t) CROSS JOIN unnest($3::text[]) AS u(url)
           ON CONFLICT DO NOTHING`,
          [alerting.map((a) => a.id), alerting.map((a) => a.time), targets],
        );
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
       WHERE d.delivered_at IS NULL AND d.dead_at IS NULL AND d.next_at <= $1 AND d.url = ANY($2)
       ORDER BY d.match_id LIMIT $3`,
      [now, urls, limit],
    );
    return rows.map((r) => ({ matchId: Number(r.id), url: String(r.d_url), attempts: Number(r.d_attempts), match: toStoredMatch(r) }));
  }

  async nextDue(urls: readonly string[]): Promise<number | undefined> {
    if (urls.length === 0) return undefined;
    const rows = await this.q<{ t: number | null }>('SELECT MIN(next_at) AS t FROM deliveries WHERE delivered_at IS NULL AND dead_at IS NULL AND url = ANY($1)', [urls]);
    return rows[0]?.t ?? undefined;
  }

  async markDelivered(matchId: number, url: string, now: number): Promise<void> {
    await this.q('UPDATE deliveries SET delivered_at = $1, attempts = attempts + 1, last_error = NULL WHERE match_id = $2 AND url = $3', [now, matchId, url]);
  }

  async markFailed(matchId: number, url: string, attempts: number, nextAt: number, error: string): Promise<void> {
    await this.q('UPDATE deliveries SET attempts = $1, next_at = $2, last_error = $3 WHERE match_id = $4 AND url = $5', [attempts, nextAt, error, matchId, url]);
  }

  async markDead(matchId: number, url: string, attempts: number, now: number, error: string): Promise<void> {
    await this.q('UPDATE deliveries SET attempts = $1, dead_at = $2, last_error = $3 WHERE match_id = $4 AND url = $5', [attempts, now, error, matchId, url]);
  }

  async pendingCount(): Promise<number> {
    const rows = await this.q<{ n: string }>('SELECT COUNT(*) AS n FROM deliveries WHERE delivered_at IS NULL AND dead_at IS NULL', []);
    return Number(rows[0].n);
  }

  async pendingByUrl(): Promise<Map<string, number>> {
    const rows = await this.q<{ url: string; n: string }>(
      'SELECT url, COUNT(*) AS n FROM deliveries WHERE delivered_at IS NULL AND dead_at IS NULL GROUP BY url', [],
    );
    return new Map(rows.map((r) => [r.url, Number(r.n)]));
  }

  async deadLetterPage(after: { matchId: number; url: string }, limit: number): Promise<DeadLetter[]> {
    const cols = MATCH_COLUMNS.split(', ').map((c) => `m.${c}`).join(', ');
    const rows = await this.q<Record<string, unknown>>(
      `SELECT d.url AS d_url, d.attempts AS d_attempts, d.dead_at AS d_dead_at, d.last_error AS d_last_error, ${cols}
       FROM deliveries d JOIN matches m ON m.id = d.match_id
       WHERE d.dead_at IS NOT NULL AND (d.match_id, d.url) > ($1, $2)
       ORDER BY d.match_id, d.url LIMIT $3`,
      [after.matchId, after.url, limit],
    );
    return rows.map(toDeadLetter);
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
