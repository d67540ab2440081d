/**
 * certstream-watch's exit codes for user mistakes (interface.md): usage errors exit 2 with one line;
 * an invalid watch file, database URL or webhook URL exits 78 with one line per problem (rules with
 * their line number), before any connection is made; never a stack trace.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

const ROOT = join(import.meta.dirname, '../..');

function watch(...args: string[]): { status: number | null; stderr: string; stdout: string } {
  return watchEnv({}, ...args);
}

function watchEnv(env: Record<string, string>, ...args: string[]): { status: number | null; stderr: string; stdout: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/certstream-watch.ts'), ...args], {
    cwd: ROOT, encoding: 'utf8', timeout: 30_000, env: { PATH: process.env.PATH ?? '', ...env },
  });
  return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}

describe('certstream-watch: invalid input', () => {
  let dir: string;
  let good: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'watch-cli-'));
    good = join(dir, 'good.watch');
    await writeFile(good, 'example.com\n');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('usage errors exit 2 with one line', () => {
    for (const args of [['run'], ['run', '--feed', 'http://x/', '--watch', 'w'], ['bogus'], ['export', '--format', 'xml'], ['export', '--since', 'yesterday'],
      ['run', '--feed', 'local', '--watch', 'w', '--id', 'bad id']]) {
      const r = watch(...args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.ok(!/\n\s+at /.test(r.stderr), 'no stack trace');
    }
    assert.equal(watch('run', '--feed', 'http://x/', '--watch', 'w').stderr.trim().split('\n').length, 1);
  });

  it('a bad watch file exits 78 with one line per problem and its line number', async () => {
    const file = join(dir, 'bad.watch');
    await writeFile(file, '# rules\nexample.com\n/(oops/\n\n~\nbad name\n');
    const r = watch('run', '--feed', 'ws://127.0.0.1:9/', '--watch', file, '--db', `sqlite:${join(dir, 'x.sqlite')}`);
    assert.equal(r.status, 78);
    assert.deepEqual(r.stderr.trim().split('\n').map((l) => l.replace(file, 'FILE').split(': ').slice(0, 2).join(': ')), [
      'certstream-watch: FILE:3', 'certstream-watch: FILE:5', 'certstream-watch: FILE:6',
    ]);
  });

  it('a bad database URL or webhook URL exits 78, every problem at once', () => {
    const r = watch('run', '--feed', 'ws://127.0.0.1:9/', '--watch', good, '--db', 'mysql://db/x', '--webhook', 'ftp://hook', '--webhook', 'not a url');
    assert.equal(r.status, 78);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 3, r.stderr);
    assert.match(lines[0], /--db 'mysql:\/\/db\/x'/);
    assert.match(lines[1], /--webhook 'ftp:\/\/hook'/);
  });

  it('every flag also reads CERTWATCH_<FLAG> (the systemd unit is configured that way); flags win', () => {
    const r = watchEnv({ CERTWATCH_FEED: 'ws://127.0.0.1:9/', CERTWATCH_WATCH: good, CERTWATCH_DB: 'mysql://db/x', CERTWATCH_WEBHOOK: 'ftp://a ftp://b' }, 'run');
    assert.equal(r.status, 78);
    assert.equal(r.stderr.trim().split('\n').length, 3, r.stderr);
    const f = watchEnv({ CERTWATCH_FEED: 'ws://127.0.0.1:9/', CERTWATCH_WATCH: good, CERTWATCH_DB: 'mysql://db/x' }, 'run', '--db', 'oracle://x');
    assert.match(f.stderr, /--db 'oracle:\/\/x'/);
  });

  it('a missing watch file exits 78; export of a missing SQLite file exits 78 without creating it', () => {
    const r = watch('run', '--feed', 'ws://127.0.0.1:9/', '--watch', join(dir, 'nope.watch'));
    assert.equal(r.status, 78);
    assert.match(r.stderr, /cannot read watch file/);
    const e = watch('export', '--db', `sqlite:${join(dir, 'missing.sqlite')}`);
    assert.equal(e.status, 78);
    assert.match(e.stderr, /no database at/);
  });
});
