/**
 * The real certstream-server CLI as a child process (via tsx, so tests need no build), for tests that
 * kill and restart it on one state directory. Fast polling, no heartbeats, no partial-tile delay, and a
 * backfill that takes whole logs: the tests count every entry.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const ROOT = join(import.meta.dirname, '../..');
const ENTRY = join(ROOT, 'src/cli/certstream-server.ts');

export interface Daemon {
  child: ChildProcess;
  port: number;
  /** Settles with the exit signal (or code when none) once the process is gone. */
  exited: Promise<NodeJS.Signals | number | null>;
}

/**
 * Starts the daemon on port 0 and resolves once it logs `listening`; `extraArgs` go after the common flags,
 * `nodeArgs` before the entry point (a preload such as test/support/import-recorder.mjs).
 */
export async function startDaemon(logList: string, stateDir: string, extraArgs: readonly string[] = [], nodeArgs: readonly string[] = []): Promise<Daemon> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', ...nodeArgs, ENTRY, '--host', '127.0.0.1', '--port', '0', '--log-list', logList, '--state-dir', stateDir,
      '--backfill', '1000000', '--poll-interval', '0.05', '--heartbeat-interval', '0', '--partial-tile-delay', '0',
      ...extraArgs],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' } },
  );
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.once('exit', (code, sig) => resolve(sig ?? code)));
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`daemon exited early with ${code}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const rec = JSON.parse(line) as { msg?: string; port?: number };
      if (rec.msg === 'listening' && typeof rec.port === 'number') resolve(rec.port);
    });
  });
  return { child, port, exited };
}
