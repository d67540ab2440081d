// The positions journal after a `kill -9` (a real child process saving without pause, killed at an
// arbitrary moment) and with a torn tail: the store opens, nothing reported saved is lost, the torn end
// is cut, and saves after it are read back (a tail left in place would swallow the next line).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { POSITIONS_JOURNAL, PositionStore } from '../../src/stream/durable-positions.js';
import { waitUntil } from '../support/wait-until.js';

const ROOT = join(import.meta.dirname, '../..');

test('kill -9 while saving: the positions open, and none is behind what was reported saved', { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'positions-kill-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/positions-writer-child.ts', dir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.once('exit', (code, sig) => resolve(sig ?? code)));
  let saved = 0;
  createInterface({ input: child.stdout }).on('line', (line) => (saved = Number(/^saved (\d+)$/.exec(line)?.[1] ?? saved)));
  // Past a fold of the journal into the snapshot (after about 1,100 records: 22 rounds), mid-save.
  await waitUntil('40 rounds saved', 60_000, () => saved >= 40);
  child.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL');
  const reported = saved;

  const store = await PositionStore.open({ stateDir: dir, flushMs: 3_600_000 });
  for (let i = 0; i < 50; i++) {
    const seq = store.get(`name-${i}`, 'full');
    assert.ok(seq !== undefined && seq >= reported, `name-${i}: ${seq} is not behind the reported round ${reported}`);
  }
  // name-1 is saved on every stream in rounds 1, 51, 101…: at least in the last such round reported.
  const lite = store.get('name-1', 'lite');
  const due = reported - ((reported - 1) % 50);
  assert.ok(lite !== undefined && lite % 50 === 1 && lite >= due, `the other streams were saved too: name-1 on lite is ${lite}, reported round ${reported}`);
  await store.close();
});

test('a torn journal tail is cut at open; what is saved after it reads back', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'positions-torn-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const journal = join(dir, POSITIONS_JOURNAL);
  const a = await PositionStore.open({ stateDir: dir, flushMs: 3_600_000 });
  a.set('alpha', 'lite', 10);
  a.set('beta', 'full', 20);
  await a.close();
  const whole = statSync(journal).size;
  // An unfinished save: half a line (no newline), as a kill -9 or a power loss can leave it.
  appendFileSync(journal, '{"n":"alpha","s":"lite","q":99');

  const b = await PositionStore.open({ stateDir: dir, flushMs: 3_600_000 });
  assert.equal(b.cutBytes, 30);
  assert.equal(statSync(journal).size, whole, 'the torn end is cut from the file');
  assert.equal(b.get('alpha', 'lite'), 10, 'the unfinished save is not applied');
  assert.equal(b.get('beta', 'full'), 20);
  b.set('gamma', 'domains', 30);
  await b.close();

  const c = await PositionStore.open({ stateDir: dir, flushMs: 3_600_000 });
  assert.equal(c.get('gamma', 'domains'), 30, 'a save after the cut is read back');
  assert.equal(c.size, 3);
  await c.close();
  assert.ok(readFileSync(journal, 'utf8').endsWith('\n'));
});
