// Durable positions on disk (written after the window's sync, survive a reopen, a corrupt file stops
// the start with STATE_ERR_CORRUPT) and the parsing of `id` / `since` (pure).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isCertstreamError } from '../../src/errors.js';
import { POSITIONS_FILE, POSITIONS_JOURNAL, PositionStore } from '../../src/stream/durable-positions.js';
import { parseSubscriptionQuery } from '../../src/stream/subscription-query.js';

test('positions survive a reopen and are written only after the window was synced', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'positions-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, POSITIONS_FILE);
  // The window's sync is held by the test: nothing may reach the file until it is released.
  const atSync: string[][] = [];
  let release!: () => void;
  let syncStarted!: () => void;
  const started = new Promise<void>((resolve) => (syncStarted = resolve));
  const beforeWrite = () => {
    atSync.push(readdirSync(dir));
    syncStarted();
    return new Promise<void>((resolve) => (release = resolve));
  };
  const a = await PositionStore.open({ stateDir: dir, flushMs: 3_600_000, beforeWrite });
  a.set('indexer-1', 'lite', 42);
  a.set('indexer-1', 'full', 7);
  a.set('other', 'domains', 0);
  let settled = false;
  const closing = a.close().finally(() => (settled = true));
  await started;
  // A store that writes without waiting for the sync has finished its write within a few milliseconds;
  // 200 ms is room for that on a loaded machine. Too short only lets a broken store pass, never fails
  // a correct one (which cannot write before the release below).
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(existsSync(file) || existsSync(join(dir, POSITIONS_JOURNAL)), false, 'nothing written while the window sync is pending');
  assert.equal(settled, false, 'close waits for the window sync');
  release();
  await closing;
  assert.deepEqual(atSync, [[]], 'one sync, before anything (not even a temp file) was written');
  assert.equal(readFileSync(join(dir, POSITIONS_JOURNAL), 'utf8').split('\n').length - 1, 3, 'written once the sync resolved');
  const b = await PositionStore.open({ stateDir: dir });
  assert.equal(b.get('indexer-1', 'lite'), 42);
  assert.equal(b.get('indexer-1', 'full'), 7);
  assert.equal(b.get('other', 'domains'), 0);
  assert.equal(b.get('other', 'lite'), undefined);
  assert.equal(b.size, 3);
  await b.close();
  writeFileSync(file, '{"version":1,"positions":{"x":{"lite":-1}}}');
  await assert.rejects(PositionStore.open({ stateDir: dir }), (err) => isCertstreamError(err, 'STATE_ERR_CORRUPT'));
  writeFileSync(file, 'not json');
  await assert.rejects(PositionStore.open({ stateDir: dir }), (err) => isCertstreamError(err, 'STATE_ERR_CORRUPT') && /fix or remove it/.test(err.message));
});

test('id and since: accepted values, and one-line reasons for bad ones', () => {
  assert.deepEqual(parseSubscriptionQuery('/'), {});
  assert.deepEqual(parseSubscriptionQuery('/full-stream?id=My.indexer_1-a'), { id: 'My.indexer_1-a' });
  assert.deepEqual(parseSubscriptionQuery('/?since=1767225600.25&other=1'), { since: 1767225600.25 });
  assert.deepEqual(parseSubscriptionQuery('/?id=a&since=5'), { id: 'a', since: 5 });
  for (const bad of ['/?id=', '/?id=a/b', `/?id=${'x'.repeat(65)}`, '/?since=', '/?since=1e9', '/?since=-1', '/?since=NaN', '/?id=a&id=a']) {
    const r = parseSubscriptionQuery(bad);
    assert.ok('error' in r, bad);
    assert.ok(!r.error.includes('\n'), bad);
  }
});

test('NAMEs that are Object.prototype members are ordinary names: saved, reopened, nothing polluted', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'positions-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const names = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__'];
  const a = await PositionStore.open({ stateDir: dir, flushMs: 3_600_000 });
  names.forEach((name, i) => a.set(name, 'domains', 100 + i));
  a.set('__proto__', 'full', 9);
  await a.close();
  assert.equal(({} as Record<string, unknown>).domains, undefined, 'Object.prototype untouched');
  const b = await PositionStore.open({ stateDir: dir, flushMs: 3_600_000 });
  names.forEach((name, i) => assert.equal(b.get(name, 'domains'), 100 + i, name));
  assert.equal(b.get('__proto__', 'full'), 9);
  assert.equal(b.get('constructor', 'lite'), undefined);
  assert.equal(b.size, names.length + 1);
  // A file that already holds such keys opens, flushes and reopens the same.
  b.set('toString', 'lite', 1);
  await b.close();
  const c = await PositionStore.open({ stateDir: dir });
  assert.equal(c.get('toString', 'lite'), 1);
  assert.equal(c.get('__proto__', 'domains'), 100);
  await c.close();
  writeFileSync(join(dir, POSITIONS_FILE), '{"version":1,"positions":{"x":null}}');
  await assert.rejects(PositionStore.open({ stateDir: dir }), (err) => isCertstreamError(err, 'STATE_ERR_CORRUPT'));
});
