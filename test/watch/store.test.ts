/**
 * The watch store's semantics, the same assertions against both backends: SQLite in a temp dir and a
 * real throw-away PostgreSQL cluster (skipped, loudly, where PostgreSQL is not installed; a failure
 * under CI).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isCertstreamError } from '../../src/errors.js';
import { openStore, parseDbUrl, type MatchRow, type WatchStore } from '../../src/watch/store.js';
import { findPostgres, startPostgres, type TestPostgres } from './support/postgres.js';

function row(i: number, over: Partial<MatchRow> = {}): MatchRow {
  return {
    time: 1_800_000_000 + i, domain: `www${i}.example.com`, rule: 'example.com', log: 'ct.example/log', certIndex: i,
    fingerprint: `FP${i}`, serial: `S${i}`, issuer: '/CN=Test CA', notBefore: 1_790_000_000, notAfter: null, updateType: 'X509LogEntry', ...over,
  };
}

/**
 * The matches every test that reads starts from: certificates 1, 2, 3 (1 and 2 recorded twice), a
 * precertificate 10, its certificate 11 (a sighting of 10) and 12 (same serial, another issuer), each
 * for the URLs given.
 */
async function seed(store: WatchStore, urls: string[] = ['http://a/']): Promise<void> {
  await store.record([row(1), row(2)], urls);
  await store.record([row(2), row(1), row(3)], urls);
  const pre = row(10, { serial: 'PAIR', updateType: 'PrecertLogEntry' });
  await store.record([pre, row(11, { serial: 'PAIR', domain: pre.domain, fingerprint: 'FP-final' }), row(12, { serial: 'PAIR', issuer: '/CN=Other CA', domain: pre.domain })], urls);
}

/**
 * A backend: `fresh()` gives the URL of an empty database, one per test, so that every test sees only
 * the rows it wrote (any test runs alone, in any order).
 */
interface Backend {
  start?(): Promise<void>;
  fresh(): Promise<string>;
  stop?(): Promise<void>;
}

function storeSuite(name: string, backend: Backend): void {
  describe(`watch store: ${name}`, () => {
    before(async () => backend.start?.());
    after(async () => backend.stop?.());

    /** Opens a store on a fresh database for one test, and closes it after. */
    async function withStore(body: (store: WatchStore, url: string) => Promise<void>): Promise<void> {
      const url = await backend.fresh();
      const store = await openStore(parseDbUrl(url));
      try {
        await body(store, url);
      } finally {
        await store.close();
      }
    }

    it('stores a match once; a replayed batch only counts duplicates', () =>
      withStore(async (store) => {
        const r1 = await store.record([row(1), row(2)], ['http://a/', 'http://b/']);
        assert.equal(r1.inserted.length, 2);
        assert.equal(r1.alerting, 2);
        const r2 = await store.record([row(2), row(1), row(3)], ['http://a/', 'http://b/']);
        assert.deepEqual([r2.inserted.map((m) => m.certIndex), r2.duplicates], [[3], 2]);
        assert.equal(await store.pendingCount(), 6, 'one delivery per match and URL');
        assert.deepEqual(await store.pendingByUrl(), new Map([['http://a/', 3], ['http://b/', 3]]));
      }));

    it('a precertificate and its certificate (same serial and issuer) alert once; the second is a sighting', () =>
      withStore(async (store) => {
        const pre = row(10, { serial: 'PAIR', updateType: 'PrecertLogEntry' });
        const cert = row(11, { serial: 'PAIR', domain: pre.domain, fingerprint: 'FP-final' });
        const other = row(12, { serial: 'PAIR', issuer: '/CN=Other CA', domain: pre.domain });
        const r = await store.record([pre, cert, other], ['http://a/']);
        assert.deepEqual(r.inserted.map((m) => m.sightingOf === null), [true, false, true]);
        assert.equal(r.inserted[1].sightingOf, r.inserted[0].id);
        assert.equal(r.alerting, 2);
      }));

    it('deliveries: due in order, failed ones wait for their next attempt, delivered ones are gone', () =>
      withStore(async (store) => {
        await seed(store, ['http://a/', 'http://b/']);
        const due = await store.dueDeliveries(['http://a/'], 2_000_000_000, 100);
        assert.deepEqual(due.map((d) => d.match.certIndex), [1, 2, 3, 10, 12]);
        await store.markDelivered(due[0].matchId, 'http://a/', 2_000_000_000);
        await store.markFailed(due[1].matchId, 'http://a/', 1, 2_100_000_000, 'HTTP 500');
        const again = await store.dueDeliveries(['http://a/'], 2_000_000_001, 100);
        assert.deepEqual(again.map((d) => d.match.certIndex), [3, 10, 12]);
        assert.equal(await store.nextDue(['http://a/']), 1_800_000_003);
        assert.equal((await store.dueDeliveries(['http://a/'], 2_100_000_000, 100)).find((d) => d.match.certIndex === 2)?.attempts, 1);
        // Another URL's deliveries are its own.
        assert.deepEqual((await store.dueDeliveries(['http://b/'], 2_000_000_001, 100)).map((d) => d.match.certIndex), [1, 2, 3, 10, 12]);
      }));

    it('exports by id, from a time on', () =>
      withStore(async (store) => {
        await seed(store);
        const all = await store.exportPage(undefined, 0, 100);
        assert.deepEqual(all.map((m) => m.certIndex), [1, 2, 3, 10, 11, 12]);
        const since = await store.exportPage(1_800_000_010, 0, 100);
        assert.deepEqual(since.map((m) => m.certIndex), [10, 11, 12]);
        assert.deepEqual((await store.exportPage(undefined, all[1].id, 2)).map((m) => m.certIndex), [3, 10]);
        assert.equal(all[0].notAfter, null);
        assert.equal(all[0].notBefore, 1_790_000_000);
      }));

    it('reopening keeps everything (the schema is created once, migrations are idempotent)', () =>
      withStore(async (store, url) => {
        await seed(store);
        const again = await openStore(parseDbUrl(url));
        try {
          assert.equal((await again.exportPage(undefined, 0, 100)).length, 6);
          await again.record([row(20)], ['http://a/']);
        } finally {
          await again.close();
        }
        assert.deepEqual((await store.exportPage(1_800_000_020, 0, 100)).map((m) => m.certIndex), [20], 'both handles see one database');
      }));
  });
}

let sqliteDir: string | undefined;
let sqliteCount = 0;
storeSuite('SQLite', {
  async start() {
    sqliteDir = await mkdtemp(join(tmpdir(), 'watch-store-'));
  },
  // A new file in a directory that does not exist yet: the store creates it.
  fresh: async () => `sqlite:${join(sqliteDir!, `db-${++sqliteCount}`, 'watch.sqlite')}`,
  stop: async () => {
    if (sqliteDir !== undefined) await rm(sqliteDir, { recursive: true, force: true });
  },
});

const pgFound = findPostgres();
if ('missing' in pgFound && process.env.CI) throw new Error(`PostgreSQL is required under CI: ${pgFound.missing}`);
if ('missing' in pgFound) {
  describe('watch store: PostgreSQL', () => {
    it('SKIPPED: PostgreSQL is not installed here', { skip: pgFound.missing }, () => {});
  });
} else {
  let pg: TestPostgres | undefined;
  let pgCount = 0;
  storeSuite('PostgreSQL', {
    async start() {
      pg = await startPostgres(pgFound.bin);
    },
    fresh: async () => pg!.createDatabase(`store_test_${++pgCount}`),
    stop: async () => pg?.stop(),
  });
}

describe('database URLs', () => {
  it('accepts sqlite: paths and postgres URLs, rejects the rest with one line', () => {
    assert.deepEqual(parseDbUrl('sqlite:./state/watch.sqlite', '/srv'), { kind: 'sqlite', path: '/srv/state/watch.sqlite' });
    assert.deepEqual(parseDbUrl('sqlite:///var/lib/w.db'), { kind: 'sqlite', path: '/var/lib/w.db' });
    assert.equal(parseDbUrl('postgresql://u:p@db:5432/watch').kind, 'postgres');
    for (const bad of ['mysql://x', 'sqlite:', './watch.sqlite', 'postgres://']) {
      assert.throws(() => parseDbUrl(bad), (e: unknown) => isCertstreamError(e, 'WATCH_ERR_CONFIG') && !e.message.includes('\n'), bad);
    }
  });
});
