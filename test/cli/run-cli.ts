/** Spawns the daemon's CLI (through tsx, so it is always the current source) and follows its output. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

const ENTRY = join(import.meta.dirname, '../../src/cli/certstream-server.ts');

export interface Run {
  child: ChildProcess;
  stdout: string[];
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first JSON log line whose msg is `msg`. */
  line(msg: string): Promise<Record<string, unknown>>;
}

/**
 * Starts certstream-server with `args` and a minimal environment plus `env`.
 * @param spawnAs run as this uid/gid through setpriv (root only: tests of permissions)
 */
export function run(args: string[], env: Record<string, string> = {}, spawnAs?: number): Run {
  const command = [process.execPath, '--import', 'tsx', ENTRY, ...args];
  if (spawnAs !== undefined) command.unshift('setpriv', `--reuid=${spawnAs}`, `--regid=${spawnAs}`, '--clear-groups');
  const [exe, ...rest] = command as [string, ...string[]];
  const child = spawn(exe, rest, {
    cwd: join(import.meta.dirname, '../..'),
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: string[] = [];
  let stderr = '';
  let partial = '';
  const waiters: { msg: string; resolve: (l: Record<string, unknown>) => void }[] = [];
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    partial += chunk;
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const text of lines) {
      stdout.push(text);
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(text) as Record<string, unknown>;
      } catch {
        continue;
      }
      for (const w of waiters.filter((x) => x.msg === parsed.msg)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(parsed);
      }
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    stdout,
    stderr: () => stderr,
    exit,
    line(msg) {
      const found = stdout.map((l) => {
        try {
          return JSON.parse(l) as Record<string, unknown>;
        } catch {
          return undefined;
        }
      }).find((l) => l?.msg === msg);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        waiters.push({ msg, resolve });
        void exit.then((e) => reject(new Error(`exited (${e.code}) before "${msg}": ${stderr}${stdout.join('\n')}`)));
      });
    },
  };
}

