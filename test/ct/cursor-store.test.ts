import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { watch } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CURSOR_FILE, CursorStore, parseCursorFile } from '../../src/ct/cursor-store.js';
import { isCertstreamError, type ErrorCode } from '../../src/errors.js';

const A = 'https://ct.googleapis.com/logs/us1/argon2026h2/';
const B = 'https://mon.sycamore.ct.letsencrypt.org/2026h1/';

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cursor-store-test-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const isCode = (code: ErrorCode, pattern?: RegExp) => (err: unknown) => {
  assert.ok(isCertstreamError(err, code), `expected ${code}, got ${String(err)}`);
  if (pattern) assert.match(err.message, pattern);
  return true;
};

test('a missing state directory is created (nested); no file means no cursors', async (t) => {
  const root = await tempDir(t);
  const dir = join(root, 'a', 'b', 'state');
  const store = new CursorStore({ stateDir: dir });
  await store.load();
  assert.deepEqual(await readdir(dir), []);
  assert.equal(store.get(A), undefined);
  assert.equal(store.path, join(dir, CURSOR_FILE));
  // Nothing changed: close writes nothing.
  await store.close();
  assert.deepEqual(await readdir(dir), []);
});

test('flush writes the whole file atomically (no temp file left); a new store reloads it', async (t) => {
  const dir = await tempDir(t);
  const store = new CursorStore({ stateDir: dir, flushMs: 3_600_000 });
  await store.load();
  store.set(A, 1111014110);
  store.set(B, 778);
  await store.flush();
  assert.deepEqual(await readdir(dir), [CURSOR_FILE]);
  const text = await readFile(join(dir, CURSOR_FILE), 'utf8');
  assert.deepEqual(JSON.parse(text), { version: 1, logs: { [A]: 1111014110, [B]: 778 } });
  assert.ok(text.endsWith('\n'));
  store.set(A, 1111014200);
  await store.close();
  assert.deepEqual(parseCursorFile(await readFile(join(dir, CURSOR_FILE), 'utf8')), new Map([[A, 1111014200], [B, 778]]));

  const again = new CursorStore({ stateDir: dir });
  await again.load();
  assert.equal(again.get(A), 1111014200);
  assert.equal(again.get(B), 778);
  assert.equal(again.get('https://other.example/'), undefined);
  await again.close();
});

test('the timer flushes while dirty (observed through the rename in the directory)', async (t) => {
  const dir = await tempDir(t);
  const store = new CursorStore({ stateDir: dir, flushMs: 20 });
  await store.load();
  const renamed = new Promise<void>((resolve) => {
    const w = watch(dir, (_event, name) => {
      if (name === CURSOR_FILE) {
        w.close();
        resolve();
      }
    });
  });
  store.set(A, 5);
  await renamed;
  // The rename is the last step that makes the file visible; its content is complete.
  assert.deepEqual(JSON.parse(await readFile(join(dir, CURSOR_FILE), 'utf8')), { version: 1, logs: { [A]: 5 } });
  await store.close();
});

test('concurrent flushes are serialised and the last value wins', async (t) => {
  const dir = await tempDir(t);
  const store = new CursorStore({ stateDir: dir, flushMs: 3_600_000 });
  await store.load();
  const flushes: Promise<void>[] = [];
  for (let i = 1; i <= 20; i++) {
    store.set(A, i);
    flushes.push(store.flush());
  }
  await Promise.all(flushes);
  assert.deepEqual(await readdir(dir), [CURSOR_FILE]);
  assert.equal(parseCursorFile(await readFile(join(dir, CURSOR_FILE), 'utf8')).get(A), 20);
  await store.close();
});

test('a leftover temp file from a crashed write is ignored on load and replaced', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, CURSOR_FILE), JSON.stringify({ version: 1, logs: { [A]: 10 } }));
  await writeFile(join(dir, `${CURSOR_FILE}.tmp`), '{"version":1,"lo'); // kill -9 in the middle of a write
  const store = new CursorStore({ stateDir: dir });
  await store.load();
  assert.equal(store.get(A), 10);
  store.set(A, 11);
  await store.close();
  assert.deepEqual(await readdir(dir), [CURSOR_FILE]);
  assert.equal(parseCursorFile(await readFile(join(dir, CURSOR_FILE), 'utf8')).get(A), 11);
});

test('a corrupt cursor file stops the load with STATE_ERR_CORRUPT and is left untouched', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['', /not valid JSON/],
    ['{"version":1,"logs":{"x":', /not valid JSON/],
    ['null', /not a version 1 cursor file/],
    ['[]', /not a version 1 cursor file/],
    ['{"version":2,"logs":{}}', /not a version 1 cursor file/],
    ['{"version":1}', /not a version 1 cursor file/],
    ['{"version":1,"logs":null}', /not a version 1 cursor file/],
    [`{"version":1,"logs":{"${A}":-1}}`, /bad index for https:\/\/ct\.googleapis/],
    [`{"version":1,"logs":{"${A}":1.5}}`, /bad index/],
    [`{"version":1,"logs":{"${A}":"12"}}`, /bad index/],
    [`{"version":1,"logs":{"${A}":1e300}}`, /bad index/],
  ];
  for (const [body, pattern] of cases) {
    const dir = await tempDir(t);
    await writeFile(join(dir, CURSOR_FILE), body);
    const store = new CursorStore({ stateDir: dir });
    await assert.rejects(store.load(), isCode('STATE_ERR_CORRUPT', pattern), JSON.stringify(body));
    await store.close().catch(() => undefined);
    assert.equal(await readFile(join(dir, CURSOR_FILE), 'utf8'), body, 'never silently replaced');
  }
  assert.throws(() => parseCursorFile('{', '/var/lib/x/cursors.json'), isCode('STATE_ERR_CORRUPT', /\/var\/lib\/x\/cursors\.json/));
});

test('an unreadable cursor file (a directory) is STATE_ERR_CORRUPT; a state dir that is a file is STATE_ERR_IO', async (t) => {
  const dir = await tempDir(t);
  await mkdir(join(dir, CURSOR_FILE));
  await assert.rejects(new CursorStore({ stateDir: dir }).load(), isCode('STATE_ERR_CORRUPT', /cannot read cursor file/));
  const file = join(dir, 'plain-file');
  await writeFile(file, 'x');
  await assert.rejects(new CursorStore({ stateDir: file }).load(), isCode('STATE_ERR_IO', /cannot create state directory/));
});

test('a failed write is STATE_ERR_IO and the next flush retries (the cursors are not lost)', async (t) => {
  const root = await tempDir(t);
  const dir = join(root, 'state');
  const errors: unknown[] = [];
  const store = new CursorStore({ stateDir: dir, flushMs: 3_600_000, onFlushError: (e) => errors.push(e) });
  await store.load();
  store.set(A, 42);
  await rm(dir, { recursive: true });
  await assert.rejects(store.flush(), isCode('STATE_ERR_IO', /cannot write cursor file/));
  await mkdir(dir);
  await store.flush();
  assert.equal(parseCursorFile(await readFile(join(dir, CURSOR_FILE), 'utf8')).get(A), 42);
  store.set(A, 43);
  await store.close();
  assert.equal(parseCursorFile(await readFile(join(dir, CURSOR_FILE), 'utf8')).get(A), 43);
  assert.deepEqual(await readdir(dir), [CURSOR_FILE]);
});

test('a cursor set while the write waits for beforeWrite is written by the next flush, not that one', async (t) => {
  const dir = await tempDir(t);
  let release: (() => void) | undefined;
  const store = new CursorStore({ stateDir: dir, flushMs: 3_600_000, beforeWrite: () => new Promise<void>((resolve) => (release = resolve)) });
  await store.load();
  store.set(A, 100);
  const first = store.flush();
  await new Promise((resolve) => setImmediate(resolve));
  assert.ok(release, 'the write waits for beforeWrite (the window sync)');
  store.set(A, 250); // the follower moves on meanwhile: those entries were not synced by this wait
  release();
  await first;
  assert.equal(parseCursorFile(await readFile(join(dir, CURSOR_FILE), 'utf8')).get(A), 100);
  release = undefined;
  const second = store.flush();
  await new Promise((resolve) => setImmediate(resolve));
  release!();
  await second;
  assert.equal(parseCursorFile(await readFile(join(dir, CURSOR_FILE), 'utf8')).get(A), 250);
  release = undefined;
  await store.close(); // nothing changed since: no write, so no wait (it would hang here)
  assert.equal(release, undefined);
});
