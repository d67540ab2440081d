/**
 * A throw-away PostgreSQL cluster for tests: initdb in a temp dir, postgres on a free loopback port,
 * trust authentication, stopped and deleted after. Uses Debian's `postgresql` package
 * (/usr/lib/postgresql/<version>/bin). PostgreSQL refuses to run as root, so as root the cluster
 * belongs to the `postgres` user (created by the package) and its commands run through `runuser`.
 *
 * `findPostgres` tells whether it can run here; under CI (env CI set) a missing PostgreSQL is an
 * error, elsewhere the caller skips with the reason (never silently).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../support/free-port.js';

/** Where initdb and pg_ctl are, or why PostgreSQL cannot run here. */
export function findPostgres(): { bin: string } | { missing: string } {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).filter((v) => existsSync(join(base, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a)) : [];
  if (versions.length === 0) return { missing: `no ${base}/*/bin/initdb (install Debian's postgresql package)` };
  if (process.getuid?.() === 0 && spawnSync('id', ['-u', 'postgres']).status !== 0) return { missing: 'running as root and there is no postgres user' };
  return { bin: join(base, versions[0], 'bin') };
}


/** A running throw-away cluster. */
export interface TestPostgres {
  /** postgres://… URL of a fresh database (one per call). */
  createDatabase(name: string): string;
  stop(): void;
}

/** Starts a cluster (about 2–5 s). */
export async function startPostgres(bin: string): Promise<TestPostgres> {
  const root = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), 'watch-pg-'));
  const data = join(dir, 'data');
  if (root) chownSync(dir, Number(execFileSync('id', ['-u', 'postgres']).toString()), Number(execFileSync('id', ['-g', 'postgres']).toString()));
  const run = (cmd: string, args: string[]) => {
    const full = root ? ['runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args]] as const : [join(bin, cmd), args] as const;
    const r = spawnSync(full[0], full[1], { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd} failed (${r.status}): ${r.stderr || r.stdout}`);
    return r.stdout;
  };
  const port = await freePort();
  run('initdb', ['-D', data, '-A', 'trust', '-U', 'watch', '--no-sync', '-E', 'UTF8']);
  run('pg_ctl', ['-D', data, '-w', '-t', '60', '-l', join(dir, 'log'), '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start']);
  return {
    createDatabase(name) {
      run('createdb', ['-h', '127.0.0.1', '-p', String(port), '-U', 'watch', name]);
      return `postgres://watch@127.0.0.1:${port}/${name}`;
    },
    stop() {
      try {
        run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
