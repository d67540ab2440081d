/**
 * Issue 23: a database written by the previous version (schema 1, names stored decoded: `пример.рф`)
 * is migrated at start, SQLite and PostgreSQL alike: `domain` becomes the ASCII (punycode) form with the
 * Unicode form beside it, and a delivery left pending under the old form — which could never be sent
 * (a Unicode Idempotency-Key made fetch throw, and blocked the URL for good) — is delivered by the real
 * `certstream-watch run`.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { schemaV1 } from '../../src/watch/schema.js';
import { Endpoint } from './support/endpoints.js';
import { FakeFeed } from './support/fake-feed.js';
import { startWatcher, storedMatches, until } from './support/harness.js';
import { findPostgres, startPostgres, type TestPostgres } from './support/postgres.js';

const NOW = Date.now() / 1000;
const V1_ROWS = [
  // id 1: a Unicode name with a pending delivery; id 2: an ASCII one, already delivered.
  [NOW, 'пример.рф', 'пример.рф', 'ct.example/log', 1, 'AA', 'S1', '/CN=CA', null, null, 'X509LogEntry'],
  [NOW, 'login-1.example', '~login-', 'ct.example/log', 2, 'AA', 'S2', '/CN=CA', null, null, 'X509LogEntry'],
];

function migration(name: string, makeV1: (dir: string, hook: string) => Promise<string>): void {
  describe(`schema 1 → 2 migration: ${name}`, { timeout: 120_000 }, () => {
    let dir: string;
    const feed = new FakeFeed();
    const hook = new Endpoint();
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'watch-migrate-'));
      await feed.start();
      await hook.start();
    });
    after(async () => {
      await feed.close();
      await hook.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('stores names in ASCII with the Unicode form beside, and delivers what the old version could not', async () => {
      const db = await makeV1(dir, hook.url);
      const watchFile = join(dir, 'm.watch');
      await writeFile(watchFile, 'пример.рф\n~login-\n');
      const w = startWatcher(['--feed', feed.url, '--watch', watchFile, '--db', db, '--webhook', hook.url]);
      try {
        await until(() => `${hook.delivered.length} delivered`, () => hook.delivered.length === 1, 30_000);
        assert.equal(hook.delivered[0].body.domain, 'xn--e1afmkfd.xn--p1ai');
        assert.equal(hook.delivered[0].body.domain_unicode, 'пример.рф');
        assert.equal(hook.delivered[0].headers['idempotency-key'], hook.delivered[0].body.id);
        w.child.kill('SIGTERM');
        assert.equal(await w.exited, 0, w.stderr());
      } finally {
        w.child.kill('SIGKILL');
      }
      const rows = await storedMatches(db);
      assert.deepEqual(rows.map((m) => [m.id, m.domain, m.domainUnicode]), [[1, 'xn--e1afmkfd.xn--p1ai', 'пример.рф'], [2, 'login-1.example', 'login-1.example']]);
    });
  });
}

migration('SQLite', async (dir, hook) => {
  const path = join(dir, 'v1.sqlite');
  const db = new Database(path);
  for (const sql of schemaV1('sqlite')) db.exec(sql);
  db.exec('CREATE TABLE watch_meta (version INTEGER NOT NULL); INSERT INTO watch_meta VALUES (1)');
  const ins = db.prepare(`INSERT INTO matches (time, domain, rule, log, cert_index, fingerprint, serial, issuer, not_before, not_after, update_type)
    VALUES (?,?,?,?,?,?,?,?,?,?,?)`);
  for (const r of V1_ROWS) ins.run(...r);
  db.prepare('INSERT INTO deliveries (match_id, url, next_at) VALUES (1, ?, ?)').run(hook, NOW);
  db.prepare('INSERT INTO deliveries (match_id, url, next_at, delivered_at, attempts) VALUES (2, ?, ?, ?, 1)').run(hook, NOW, NOW);
  db.close();
  return `sqlite:${path}`;
});

const pgFound = findPostgres();
if ('missing' in pgFound && process.env.CI) throw new Error(`PostgreSQL is required under CI: ${pgFound.missing}`);
if ('missing' in pgFound) {
  describe('schema 1 → 2 migration: PostgreSQL', () => {
    it('SKIPPED: PostgreSQL is not installed here', { skip: pgFound.missing }, () => {});
  });
} else {
  let cluster: TestPostgres | undefined;
  after(() => cluster?.stop());
  migration('PostgreSQL', async (_dir, hook) => {
    cluster = await startPostgres(pgFound.bin);
    const url = cluster.createDatabase('watch_migrate');
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      for (const sql of schemaV1('postgres')) await c.query(sql);
      await c.query('CREATE TABLE watch_meta (version INTEGER NOT NULL); INSERT INTO watch_meta VALUES (1)');
      for (const r of V1_ROWS) {
        await c.query(`INSERT INTO matches (time, domain, rule, log, cert_index, fingerprint, serial, issuer, not_before, not_after, update_type)
          VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)`, r);
      }
      await c.query('INSERT INTO deliveries (match_id, url, next_at) VALUES (1, $1, $2)', [hook, NOW]);
      await c.query('INSERT INTO deliveries (match_id, url, next_at, delivered_at, attempts) VALUES (2, $1, $2, $2, 1)', [hook, NOW]);
    } finally {
      await c.end();
    }
    return url;
  });
}
