// Issue 19 item 4: certstream-watch picks the exit code of a database it cannot open from the error's
// code, never from its text. A PostgreSQL that cannot serve the store exits 69 (EX_UNAVAILABLE:
// systemd retries) whatever the names in the message; a schema written by a newer certstream-watch
// exits 78 (retrying cannot help). The code once matched the message against "newer certstream-watch",
// so a database whose NAME held those words exited 78 where any other name exited 69.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { SCHEMA_VERSION } from '../../src/watch/schema.js';
import { findPostgres, startPostgres, type TestPostgres } from './support/postgres.js';

const ROOT = join(import.meta.dirname, '../..');
const found = findPostgres();
const skip = 'missing' in found ? found.missing : false;

function watch(...args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/certstream-watch.ts'), ...args], {
    cwd: ROOT, encoding: 'utf8', timeout: 60_000, env: { PATH: process.env.PATH ?? '' },
  });
  return { status: r.status, stderr: r.stderr };
}

describe('certstream-watch: exit codes of a database that cannot be opened', { skip }, () => {
  let server: TestPostgres | undefined;
  let dir: string;
  let watchFile: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'watch-db-exit-'));
    watchFile = join(dir, 'w.watch');
    await writeFile(watchFile, 'example.com\n');
    if (!('missing' in found)) server = await startPostgres(found.bin);
  });
  after(async () => {
    server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const run = (db: string) => watch('run', '--feed', 'ws://127.0.0.1:9/', '--watch', watchFile, '--db', db);

  it('a database PostgreSQL cannot serve exits 69 whatever its name', () => {
    const base = server!.createDatabase('probe').replace(/\/probe$/, '');
    for (const name of ['absent', 'newer certstream-watch']) {
      const r = run(`${base}/${encodeURIComponent(name)}`);
      assert.match(r.stderr, new RegExp(`database "${name}" does not exist`), r.stderr);
      assert.equal(r.status, 69, `database "${name}": ${r.stderr}`);
    }
  });

  it('a schema written by a newer certstream-watch exits 78', async () => {
    const url = server!.createDatabase('newer_schema');
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query('CREATE TABLE watch_meta (version INTEGER NOT NULL)');
      await client.query('INSERT INTO watch_meta (version) VALUES ($1)', [SCHEMA_VERSION + 1]);
    } finally {
      await client.end();
    }
    const r = run(url);
    assert.match(r.stderr, /written by a newer certstream-watch/);
    assert.equal(r.status, 78, r.stderr);
    const e = watch('export', '--db', url);
    assert.match(e.stderr, /written by a newer certstream-watch/);
    assert.equal(e.status, 78, `export: ${e.stderr}`);
  });

  it('an unreachable PostgreSQL exits 69', () => {
    const r = run('postgres://watch@127.0.0.1:9/db');
    assert.equal(r.status, 69, r.stderr);
  });
});
