// The file store of durable positions (src/stream/durable-positions.ts) with a lifetime, a cap and a
// journal: a position neither confirmed nor used for --durable-expire is forgotten, and stays forgotten
// across a restart (its last use is saved with it; the clock is injected); a new NAME beyond the cap is
// not admitted while known ones are; a save after changing 1 of N positions writes O(1) bytes; the
// journal is folded into the snapshot once it outgrows the live set.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { POSITIONS_FILE, POSITIONS_JOURNAL, PositionStore, readSavedPositions } from '../../src/stream/durable-positions.js';

const HOUR = 3_600_000;
const T0 = 1_780_000_000_000;

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'positions-life-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('a position unused for --durable-expire is forgotten, across restarts; use and confirmation keep it alive', async (t) => {
  const dir = tempDir(t);
  let now = T0;
  const open = () => PositionStore.open({ stateDir: dir, flushMs: HOUR, expireMs: 10 * HOUR, now: () => now });
  const a = await open();
  for (const name of ['kept', 'confirmed', 'idle', '__proto__']) a.set(name, 'full', 5);
  await a.close();

  // 9 hours later, through a restart: nothing is old enough yet. 'kept' connects, 'confirmed' confirms.
  now = T0 + 9 * HOUR;
  const b = await open();
  assert.equal(b.size, 4);
  b.touch('kept', 'full');
  b.set('confirmed', 'full', 6);
  await b.close();

  // 11 hours after the first save: 'idle' and '__proto__' were last used 11 hours ago; the others 2.
  now = T0 + 11 * HOUR;
  const c = await open();
  assert.equal(c.get('idle', 'full'), undefined, 'an unused position is forgotten at open');
  assert.equal(c.get('__proto__', 'full'), undefined, '__proto__ expires like any other name');
  assert.equal(c.get('kept', 'full'), 5, 'a NAME that connected lives on');
  assert.equal(c.get('confirmed', 'full'), 6, 'a confirmed position lives on');
  assert.equal(c.size, 2);
  await c.close();
  const saved = await readSavedPositions(dir);
  assert.deepEqual([...saved.keys()].sort(), ['confirmed', 'kept'], 'the forgetting is saved, not only done in memory');

  // Without a restart: the sweep forgets what ages while the store is open.
  const d = await open();
  now = T0 + 20 * HOUR;
  assert.equal(d.expire(), 2);
  assert.equal(d.size, 0);
  await d.close();
  assert.equal((await readSavedPositions(dir)).size, 0);

  // 0 = never.
  const e = await PositionStore.open({ stateDir: dir, flushMs: HOUR, expireMs: 0, now: () => now });
  e.set('forever', 'lite', 1);
  now += 1000 * HOUR;
  assert.equal(e.expire(), 0);
  assert.equal(e.get('forever', 'lite'), 1);
  await e.close();
});

test('--max-durable-subscriptions: a new NAME beyond the cap is not admitted, known NAMEs are', async (t) => {
  const dir = tempDir(t);
  const store = await PositionStore.open({ stateDir: dir, flushMs: HOUR, maxPositions: 3 });
  store.set('a', 'lite', 1);
  store.set('b', 'lite', 1);
  assert.equal(store.admits('c', 'lite'), true);
  store.set('c', 'lite', 1);
  assert.equal(store.admits('d', 'lite'), false, 'the 4th position is refused');
  assert.equal(store.admits('a', 'full'), false, 'a known NAME on another stream is a new position');
  for (const name of ['a', 'b', 'c']) assert.equal(store.admits(name, 'lite'), true, `${name} is known`);
  await store.close();
});

/** Bytes this process has passed to write(2) and friends (Linux /proc/self/io `wchar`). */
function bytesWritten(): number {
  return Number(/^wchar: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'))![1]);
}

test('a save after changing 1 of 5,000 positions writes O(1) bytes, not the whole set', { skip: existsSync('/proc/self/io') ? false : 'no /proc/self/io' }, async (t) => {
  const dir = tempDir(t);
  const store = await PositionStore.open({ stateDir: dir, flushMs: HOUR });
  for (let i = 0; i < 5000; i++) store.set(`client-${i}`, 'full', 1_000_000 + i);
  await store.flush();
  const before = bytesWritten();
  store.set('client-2500', 'full', 2_000_000);
  await store.flush();
  const written = bytesWritten() - before;
  // One journal line is about 70 bytes; the whole set is about 200 KB.
  assert.ok(written < 1000, `${written} bytes written for one changed position`);
  assert.equal((await readSavedPositions(dir)).get('client-2500')?.get('full')?.seq, 2_000_000);
  await store.close();
});

test('the journal is folded into the snapshot once it outgrows the live set; the positions read back the same', async (t) => {
  const dir = tempDir(t);
  let now = T0;
  const store = await PositionStore.open({ stateDir: dir, flushMs: HOUR, now: () => now });
  // 10 positions confirmed again and again: the journal grows, the live set does not.
  for (let round = 0; round < 150; round++) {
    now += 1000;
    for (let i = 0; i < 10; i++) store.set(`n${i}`, 'lite', round * 10 + i);
    await store.flush();
  }
  await store.close();
  assert.ok(existsSync(join(dir, POSITIONS_FILE)), 'a snapshot was written');
  const lines = readFileSync(join(dir, POSITIONS_JOURNAL), 'utf8').split('\n').length - 1;
  assert.ok(lines <= 2 * 10 + 1000, `the journal was emptied into it (${lines} records left of 1,500 saved)`);
  const again = await PositionStore.open({ stateDir: dir, flushMs: HOUR, now: () => now });
  for (let i = 0; i < 10; i++) assert.equal(again.get(`n${i}`, 'lite'), 1490 + i);
  assert.equal(again.size, 10);
  await again.close();
});
