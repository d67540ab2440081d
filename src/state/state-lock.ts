/**
 * One daemon per state directory. Two daemons on one `--state-dir` overwrite each other's cursor file
 * (a log's cursor vanishes; the next start begins at the head: entries lost), so the daemon takes
 * `<state-dir>/certstream-server.lock` at start: created with O_EXCL, holding its PID, removed on exit.
 *
 * A lock whose PID is gone (after `kill -9`, a crash, a reboot) is stale and taken over. A PID that is
 * alive but whose /proc cmdline is not a certstream-server is a recycled PID: stale too. Where /proc
 * is hidden (systemd's ProtectProc=invisible), a live PID is trusted. The take-over renames the stale
 * file away first (rename is atomic: of two starters racing for one stale lock, one wins the rename),
 * and puts it back if what it renamed turns out to be a live lock taken meanwhile.
 *
 * Synchronous on purpose: it runs once at start, and the release must work from process.on('exit').
 */
import { accessSync, closeSync, constants, existsSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { CertstreamError } from '../errors.js';

export const LOCK_FILE = 'certstream-server.lock';

export interface StateLock {
  /** The lock file. */
  readonly path: string;
  /** The PID of the stale lock that was taken over, if any (worth a warning). */
  readonly tookOverFrom: number | undefined;
  /** Removes the lock file if it is still ours. Idempotent. */
  release(): void;
}

export interface LockOptions {
  /** Our PID (default process.pid). */
  pid?: number;
  /** Whether `pid` is a running certstream-server (default: kill(pid, 0) and /proc/<pid>/cmdline). */
  isRunning?: (pid: number) => boolean;
}

/**
 * Creates the state directory if needed and takes its lock.
 * @throws CertstreamError STATE_ERR_LOCKED (another daemon holds it) or STATE_ERR_IO (the directory
 *   cannot be created or written), each with a one-line message naming `--state-dir`.
 */
export function acquireStateLock(stateDir: string, options: LockOptions = {}): StateLock {
  const pid = options.pid ?? process.pid;
  const isRunning = options.isRunning ?? isRunningDaemon;
  ensureWritableDir(stateDir);
  const path = join(stateDir, LOCK_FILE);
  let tookOverFrom: number | undefined;
  // Three rounds: each lost race means another starter made progress; more is not a race but a fight.
  for (let round = 0; round < 3; round++) {
    if (tryCreate(path, pid, stateDir)) return lockHandle(path, pid, tookOverFrom);
    const holder = readPid(path);
    if (holder === undefined && !existsSync(path)) continue; // released meanwhile
    if (holder !== undefined && holder !== pid && isRunning(holder)) throw lockedError(stateDir, holder);
    // Stale: unreadable (a crash between create and write), our own PID from a former life, or dead.
    const aside = `${path}.stale-${pid}`;
    try {
      renameSync(path, aside);
    } catch {
      continue; // another starter moved it first
    }
    const moved = readPid(aside);
    if (moved !== holder && moved !== undefined && moved !== pid && isRunning(moved)) {
      // Not the stale lock we judged but a fresh one a racing starter just created: give it back.
      renameSync(aside, path);
      throw lockedError(stateDir, moved);
    }
    unlinkSync(aside);
    tookOverFrom = holder;
  }
  throw new CertstreamError('STATE_ERR_LOCKED', `--state-dir ${stateDir}: could not take ${LOCK_FILE} (other daemons are starting on it)`);
}

function lockHandle(path: string, pid: number, tookOverFrom: number | undefined): StateLock {
  let released = false;
  return {
    path,
    tookOverFrom,
    release() {
      if (released) return;
      released = true;
      // Never remove a lock that is no longer ours (taken over after we were presumed dead).
      if (readPid(path) === pid) {
        try {
          unlinkSync(path);
        } catch {
          // gone already
        }
      }
    },
  };
}

function tryCreate(path: string, pid: number, stateDir: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw ioError(stateDir, `cannot create ${LOCK_FILE}`, err);
  }
  try {
    writeSync(fd, `${pid}\n`);
  } finally {
    closeSync(fd);
  }
  return true;
}

function readPid(path: string): number | undefined {
  try {
    const text = readFileSync(path, 'utf8').trim();
    return /^[1-9]\d{0,9}$/.test(text) ? Number(text) : undefined;
  } catch {
    return undefined;
  }
}

/** kill(pid, 0) says whether the PID exists (EPERM: it does, under another user); /proc tells what it runs. */
function isRunningDaemon(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return true; // hidden or no /proc: trust the PID
  }
  return cmdline.includes('certstream-server');
}

function lockedError(stateDir: string, holder: number): CertstreamError {
  return new CertstreamError(
    'STATE_ERR_LOCKED',
    `--state-dir ${stateDir}: in use by another certstream-server (PID ${holder}); stop it or choose another --state-dir`,
  );
}

/**
 * mkdir -p with an error that says what is wrong: Node's recursive mkdir reports ENOENT when a parent
 * cannot be created because ITS parent is read-only, which sends the operator looking for a typo.
 */
function ensureWritableDir(stateDir: string): void {
  try {
    mkdirSync(stateDir, { recursive: true });
  } catch (err) {
    const ancestor = nearestExisting(resolve(stateDir));
    // The diagnosed cases drop mkdir's own message: it is the misleading part.
    if (ancestor !== undefined && !statSync(ancestor).isDirectory()) throw ioError(stateDir, `cannot create it: ${ancestor} is not a directory`);
    const denied = ancestor !== undefined ? accessError(ancestor) : undefined;
    if (ancestor !== undefined && denied) throw ioError(stateDir, `cannot create it: ${ancestor} is not writable (${denied})`);
    throw ioError(stateDir, 'cannot create it', err);
  }
  if (!statSync(stateDir).isDirectory()) throw ioError(stateDir, 'is not a directory');
  const denied = accessError(stateDir);
  if (denied) throw ioError(stateDir, `is not writable (${denied})`);
}

function nearestExisting(path: string): string | undefined {
  for (let p = path; ; p = dirname(p)) {
    if (existsSync(p)) return p;
    if (dirname(p) === p) return undefined;
  }
}

/** The errno code when `dir` is not writable, else undefined. */
function accessError(dir: string): string | undefined {
  try {
    accessSync(dir, constants.W_OK);
    return undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? 'not writable';
  }
}

/** One line: `--state-dir DIR: WHAT`, plus the system's message when there is a cause. */
function ioError(stateDir: string, what: string, cause?: unknown): CertstreamError {
  return new CertstreamError('STATE_ERR_IO', `--state-dir ${stateDir}: ${what}`, cause === undefined ? undefined : { cause });
}
