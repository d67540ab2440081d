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

function storeSuite(name: string, open: () => Promise<{ url: string; done?: () => Promise<void> }>): void {
  describe(`watch store: ${name}`, () => {
    let store: WatchStore;
    let url: string;
    let done: (() => Promise<void>) | undefined;
    before(async () => {
      ({ url, done } = await open());
      store = await openStore(parseDbUrl(url));
    });
    after(async () => {
      await store?.close();
      await done?.();
    });

    it('stores a match once; a replayed batch only counts duplicates', async () => {
      const r1 = await store.record([row(1), row(2)], ['http://a/', 'http://b/']);
      assert.equal(r1.inserted.length, 2);
      assert.equal(r1.alerting, 2);
      const r2 = await store.record([row(2), row(1), row(3)], ['http://a/', 'http://b/']);
      assert.deepEqual([r2.inserted.map((m) => m.certIndex), r2.duplicates], [[3], 2]);
      assert.equal(await store.pendingCount(), 6, 'one delivery per match and URL');
      assert.deepEqual(await store.pendingByUrl(), new Map([['http://a/', 3], ['http://b/', 3]]));
    });

    it('a precertificate and its certificate (same serial and issuer) alert once; the second is a sighting', async () => {
      const pre = row(10, { serial: 'PAIR', updateType: 'PrecertLogEntry' });
      const cert = row(11, { serial: 'PAIR', domain: pre.domain, fingerprint: 'FP-final' });
      const other = row(12, { serial: 'PAIR', issuer: '/CN=Other CA', domain: pre.domain });
      const r = await store.record([pre, cert, other], ['http://a/']);
      assert.deepEqual(r.inserted.map((m) => m.sightingOf === null), [true, false, true]);
      assert.equal(r.inserted[1].sightingOf, r.inserted[0].id);
      assert.equal(r.alerting, 2);
    });

    it('deliveries: due in order, failed ones wait for their next attempt, delivered ones are gone', async () => {
      const due = await store.dueDeliveries(['http://a/'], 2_000_000_000, 100);
      assert.deepEqual(due.map((d) => d.match.certIndex), [1, 2, 3, 10, 12]);
      await store.markDelivered(due[0].matchId, 'http://a/', 2_000_000_000);
      await store.markFailed(due[1].matchId, 'http://a/', 1, 2_100_000_000, 'HTTP 500');
      const again = await store.dueDeliveries(['http://a/'], 2_000_000_001, 100);
      assert.deepEqual(again.map((d) => d.match.certIndex), [3, 10, 12]);
      assert.equal(await store.nextDue(['http://a/']), 1_800_000_003);
      assert.equal((await store.dueDeliveries(['http://a/'], 2_100_000_000, 100)).find((d) => d.match.certIndex === 2)?.attempts, 1);
    });

    it('exports by id, from a time on', async () => {
      const all = await store.exportPage(undefined, 0, 100);
      assert.deepEqual(all.map((m) => m.certIndex), [1, 2, 3, 10, 11, 12]);
      const since = await store.exportPage(1_800_000_010, 0, 100);
      assert.deepEqual(since.map((m) => m.certIndex), [10, 11, 12]);
      assert.deepEqual((await store.exportPage(undefined, all[1].id, 2)).map((m) => m.certIndex), [3, 10]);
      assert.equal(all[0].notAfter, null);
      assert.equal(all[0].notBefore, 1_790_000_000);
    });

    it('reopening keeps everything (the schema is created once, migrations are idempotent)', async () => {
      const again = await openStore(parseDbUrl(url));
      try {
        assert.equal((await again.exportPage(undefined, 0, 100)).length, 6);
      } finally {
        await again.close();
      }
    });
  });
}

const tmp: string[] = [];
storeSuite('SQLite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'watch-store-'));
  tmp.push(dir);
  return { url: `sqlite:${join(dir, 'sub', 'watch.sqlite')}`, done: () => rm(dir, { recursive: true, force: true }) };
});

const pgFound = findPostgres();
if ('missing' in pgFound && process.env.CI) throw new Error(`PostgreSQL is required under CI: ${pgFound.missing}`);
if ('missing' in pgFound) {
  describe('watch store: PostgreSQL', () => {
    it('SKIPPED: PostgreSQL is not installed here', { skip: pgFound.missing }, () => {});
  });
} else {
  let pg: TestPostgres;
  storeSuite('PostgreSQL', async () => {
    pg = await startPostgres(pgFound.bin);
    return { url: pg.createDatabase('store_test'), done: async () => pg.stop() };
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
