// The state directory lock (src/state/state-lock.ts) against real files and real processes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isCertstreamError } from '../../src/errors.js';
import { LOCK_FILE, acquireStateLock } from '../../src/state/state-lock.js';

function dir(t: { after(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'state-lock-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** A live child process whose command line says `marker`; killed after the test. */
async function liveProcess(t: { after(fn: () => void): void }, marker: string): Promise<number> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', marker], { stdio: 'ignore' });
  t.after(() => child.kill('SIGKILL'));
  await new Promise((resolve, reject) => child.once('spawn', resolve).once('error', reject));
  return child.pid!;
}

function lockedBy(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(isCertstreamError(err, 'STATE_ERR_LOCKED'), String(err));
    return err.message;
  }
  return assert.fail('expected STATE_ERR_LOCKED');
}

test('creates the directory, writes the PID, and releases only its own lock', (t) => {
  const stateDir = join(dir(t), 'a', 'b');
  const lock = acquireStateLock(stateDir, { pid: 4242 });
  assert.equal(readFileSync(join(stateDir, LOCK_FILE), 'utf8'), '4242\n');
  assert.equal(lock.tookOverFrom, undefined);
  lock.release();
  assert.equal(existsSync(join(stateDir, LOCK_FILE)), false);

  const again = acquireStateLock(stateDir, { pid: 4242 });
  // Someone took it over (we were presumed dead): our release must leave their lock alone.
  writeFileSync(join(stateDir, LOCK_FILE), '777\n');
  again.release();
  assert.equal(readFileSync(join(stateDir, LOCK_FILE), 'utf8'), '777\n');
});

test('a lock held by a running certstream-server is refused, naming its PID', async (t) => {
  const stateDir = dir(t);
  const pid = await liveProcess(t, 'certstream-server');
  writeFileSync(join(stateDir, LOCK_FILE), `${pid}\n`);
  const message = lockedBy(() => acquireStateLock(stateDir));
  assert.equal(message, `--state-dir ${stateDir}: in use by another certstream-server (PID ${pid}); stop it or choose another --state-dir`);
  assert.equal(readFileSync(join(stateDir, LOCK_FILE), 'utf8'), `${pid}\n`, 'left alone');
});

test('stale locks are taken over: dead PID, recycled PID, garbage, our own PID', async (t) => {
  const stateDir = dir(t);
  const dead = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await new Promise((resolve) => dead.once('exit', resolve));
  const recycled = await liveProcess(t, 'something-else');
  for (const [content, from] of [[`${dead.pid}\n`, dead.pid], [`${recycled}\n`, recycled], ['', undefined], ['12ab\n', undefined], [`${process.pid}\n`, process.pid]] as const) {
    writeFileSync(join(stateDir, LOCK_FILE), content);
    const lock = acquireStateLock(stateDir);
    assert.equal(lock.tookOverFrom, from, JSON.stringify(content));
    assert.equal(readFileSync(join(stateDir, LOCK_FILE), 'utf8'), `${process.pid}\n`);
    lock.release();
  }
});

test('a lock taken by a racing starter after we judged the old one stale is given back', (t) => {
  const stateDir = dir(t);
  const path = join(stateDir, LOCK_FILE);
  writeFileSync(path, '1111\n');
  // The judge sees 1111 as dead; while it judges, a racing starter (PID 2222, alive) replaces the file.
  const lockedMessage = lockedBy(() =>
    acquireStateLock(stateDir, {
      pid: 3333,
      isRunning: (pid) => {
        if (pid === 1111) {
          writeFileSync(path, '2222\n');
          return false;
        }
        return pid === 2222;
      },
    }),
  );
  assert.match(lockedMessage, /PID 2222/);
  assert.equal(readFileSync(path, 'utf8'), '2222\n', 'the racing starter keeps its lock');
});

test('a state dir that is a file, or below a file: STATE_ERR_IO naming it', (t) => {
  const base = dir(t);
  const file = join(base, 'file');
  writeFileSync(file, 'x');
  for (const [stateDir, message] of [
    [file, `--state-dir ${file}: cannot create it: ${file} is not a directory`],
    [join(file, 'sub'), `--state-dir ${join(file, 'sub')}: cannot create it: ${file} is not a directory`],
  ] as const) {
    assert.throws(() => acquireStateLock(stateDir), (err: unknown) => isCertstreamError(err, 'STATE_ERR_IO') && err.message === message);
  }
});
