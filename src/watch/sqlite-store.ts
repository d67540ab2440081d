/**
 * The embedded SQLite backend of the watch store (better-sqlite3, synchronous, in WAL mode: a `kill -9`
 * loses no committed transaction). Each batch is one transaction.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { CertstreamError, describeError } from '../errors.js';
import { MATCH_COLUMNS, SCHEMA_VERSION, migrations, renameToAscii } from './schema.js';
import { stored, toDeadLetter, toStoredMatch, type DeadLetter, type Delivery, type MatchRow, type RecordResult, type StoredMatch, type WatchStore } from './store.js';

type Row = Record<string, unknown>;

function placeholders(n: number): string {
  return Array.from({ length: n }, () => '?').join(',');
}

export class SqliteStore implements WatchStore {
  readonly kind = 'sqlite';
  readonly location: string;
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;
  private readonly firstOfCert: Database.Statement;
  private readonly setSighting: Database.Statement;
  private readonly addDelivery: Database.Statement;

  private constructor(path: string, db: Database.Database) {
    this.location = path;
    this.db = db;
    this.insert = db.prepare(
      `INSERT INTO matches (time, domain, rule, log, cert_index, fingerprint, serial, issuer, not_before, not_after, update_type,
                            domain_unicode, dns_names, subject, cert_sha256)
       VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING RETURNING id`,
    );
    this.firstOfCert = db.prepare(
      'SELECT id FROM matches WHERE serial = ? AND issuer = ? AND domain = ? AND rule = ? AND sighting_of IS NULL AND id <> ? ORDER BY id LIMIT 1',
    );
    this.setSighting = db.prepare('UPDATE matches SET sighting_of = ? WHERE id = ?');
    this.addDelivery = db.prepare('INSERT INTO deliveries (match_id, url, next_at) VALUES (?,?,?) ON CONFLICT DO NOTHING');
  }

  /**
   * Opens or creates the database file (and its directory), then creates or migrates the schema.
   * @throws CertstreamError WATCH_ERR_DB
   */
  static open(path: string): SqliteStore {
    let db: Database.Database;
    try {
      mkdirSync(dirname(path), { recursive: true });
      db = new Database(path);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      db.pragma('busy_timeout = 5000');
      migrate(db);
    } catch (err) {
      if (err instanceof CertstreamError) throw err;
      throw new CertstreamError('WATCH_ERR_DB', `sqlite database ${path}: ${describeError(err)}`, { cause: err });
    }
    return new SqliteStore(path, db);
  }

  async record(rows: readonly MatchRow[], targets: readonly string[]): Promise<RecordResult> {
    const result: RecordResult = { inserted: [], alerting: 0, duplicates: 0 };
    this.db.transaction(() => {
      for (const r of rows) {
        const got = this.insert.get(r.time, r.domain, r.rule, r.log, r.certIndex, r.fingerprint, r.serial, r.issuer,
          r.notBefore, r.notAfter, r.updateType, r.domainUnicode ?? r.domain, r.dnsNames ?? '', r.subject ?? '', r.certSha256 ?? '') as { id: number } | undefined;
        if (!got) {
          result.duplicates++;
          continue;
        }
        const first = r.serial === '' ? undefined : (this.firstOfCert.get(r.serial, r.issuer, r.domain, r.rule, got.id) as { id: number } | undefined);
        if (first) this.setSighting.run(first.id, got.id);
        else {
          result.alerting++;
          for (const url of targets) this.addDelivery.run(got.id, url, r.time);
        }
        result.inserted.push(stored(r, got.id, first ? first.id : null));
      }
    })();
    return result;
  }

  async dueDeliveries(urls: readonly string[], now: number, limit: number): Promise<Delivery[]> {
    if (urls.length === 0) return [];
    const rows = this.db
      .prepare(
        `SELECT d.url AS d_url, d.attempts AS d_attempts, ${MATCH_COLUMNS.split(', ').map((c) => `m.${c}`).join(', ')}
         FROM deliveries d JOIN matches m ON m.id = d.match_id
         WHERE d.delivered_at IS NULL AND d.dead_at IS NULL AND d.next_at <= ? AND d.url IN (${placeholders(urls.length)})
         ORDER BY d.match_id LIMIT ?`,
      )
      .all(now, ...urls, limit) as Row[];
    return rows.map((r) => ({ matchId: Number(r.id), url: String(r.d_url), attempts: Number(r.d_attempts), match: toStoredMatch(r) }));
  }

  async nextDue(urls: readonly string[]): Promise<number | undefined> {
    if (urls.length === 0) return undefined;
    const r = this.db
      .prepare(`SELECT MIN(next_at) AS t FROM deliveries WHERE delivered_at IS NULL AND dead_at IS NULL AND url IN (${placeholders(urls.length)})`)
      .get(...urls) as { t: number | null };
    return r.t ?? undefined;
  }

  async markDelivered(matchId: number, url: string, now: number): Promise<void> {
    this.db.prepare('UPDATE deliveries SET delivered_at = ?, attempts = attempts + 1, last_error = NULL WHERE match_id = ? AND url = ?').run(now, matchId, url);
  }

  async markFailed(matchId: number, url: string, attempts: number, nextAt: number, error: string): Promise<void> {
    this.db.prepare('UPDATE deliveries SET attempts = ?, next_at = ?, last_error = ? WHERE match_id = ? AND url = ?').run(attempts, nextAt, error, matchId, url);
  }

  async markDead(matchId: number, url: string, attempts: number, now: number, error: string): Promise<void> {
    this.db.prepare('UPDATE deliveries SET attempts = ?, dead_at = ?, last_error = ? WHERE match_id = ? AND url = ?').run(attempts, now, error, matchId, url);
  }

  async pendingCount(): Promise<number> {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM deliveries WHERE delivered_at IS NULL AND dead_at IS NULL').get() as { n: number }).n;
  }

  async pendingByUrl(): Promise<Map<string, number>> {
    const rows = this.db.prepare('SELECT url, COUNT(*) AS n FROM deliveries WHERE delivered_at IS NULL AND dead_at IS NULL GROUP BY url').all() as { url: string; n: number }[];
    return new Map(rows.map((r) => [r.url, r.n]));
  }

  async deadLetterPage(after: { matchId: number; url: string }, limit: number): Promise<DeadLetter[]> {
    const rows = this.db
      .prepare(
        `SELECT d.url AS d_url, d.attempts AS d_attempts, d.dead_at AS d_dead_at, d.last_error AS d_last_error,
                ${MATCH_COLUMNS.split(', ').map((c) => `m.${c}`).join(', ')}
         FROM deliveries d JOIN matches m ON m.id = d.match_id
         WHERE d.dead_at IS NOT NULL AND (d.match_id > ? OR (d.match_id = ? AND d.url > ?))
         ORDER BY d.match_id, d.url LIMIT ?`,
      )
      .all(after.matchId, after.matchId, after.url, limit) as Row[];
    return rows.map(toDeadLetter);
  }

  async exportPage(since: number | undefined, afterId: number, limit: number): Promise<StoredMatch[]> {
    const rows = this.db
      .prepare(`SELECT ${MATCH_COLUMNS} FROM matches WHERE time >= ? AND id > ? ORDER BY id LIMIT ?`)
      .all(since ?? 0, afterId, limit) as Row[];
    return rows.map(toStoredMatch);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

function migrate(db: Database.Database): void {
  db.exec('CREATE TABLE IF NOT EXISTS watch_meta (version INTEGER NOT NULL)');
  const row = db.prepare('SELECT version FROM watch_meta').get() as { version: number } | undefined;
  const from = row?.version ?? 0;
  if (from > SCHEMA_VERSION) {
    throw new CertstreamError('WATCH_ERR_DB', `schema version ${from} was written by a newer certstream-watch (this one knows ${SCHEMA_VERSION})`);
  }
  const steps = migrations('sqlite');
  db.transaction(() => {
    for (let v = from; v < SCHEMA_VERSION; v++) {
      for (const sql of steps[v]) db.exec(sql);
      if (v + 1 === 2) {
        const rows = db.prepare('SELECT id, domain FROM matches').all() as { id: number; domain: string }[];
        const set = db.prepare('UPDATE matches SET domain = ?, domain_unicode = ? WHERE id = ?');
        for (const r of renameToAscii(rows)) set.run(r.ascii, r.unicode, r.id);
        db.exec('UPDATE matches SET domain_unicode = domain WHERE domain_unicode IS NULL');
      }
    }
    if (row) db.prepare('UPDATE watch_meta SET version = ?').run(SCHEMA_VERSION);
    else db.prepare('INSERT INTO watch_meta (version) VALUES (?)').run(SCHEMA_VERSION);
  })();
}
