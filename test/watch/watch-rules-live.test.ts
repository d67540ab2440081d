/**
 * Issue 23, the watch list in a running watcher and on the command line: SIGHUP reloads the watch file
 * exactly (new rules from the next entry, nothing missed or matched twice, an invalid file refused with
 * its per-line messages while the old rules stay); a --regex-timeout shorter than a worker's start no
 * longer livelocks the regex rules; `certstream-watch test` says which rule matches a name.
 * The real CLI, a real WebSocket feed on 127.0.0.1, real SQLite.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FakeFeed, type FakeCert } from './support/fake-feed.js';
import { startWatcher, storedMatches, until } from './support/harness.js';

const ROOT = join(import.meta.dirname, '../..');

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/certstream-watch.ts'), ...args], {
    cwd: ROOT, encoding: 'utf8', timeout: 60_000, env: { PATH: process.env.PATH ?? '' },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const certs = (from: number, count: number, name: (i: number) => string[]): FakeCert[] =>
  Array.from({ length: count }, (_, k) => ({ index: from + k, domains: name(from + k) }));

describe('certstream-watch: the watch list live and on the command line (issue 23)', { timeout: 180_000 }, () => {
  let dir: string;
  const feed = new FakeFeed();
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'watch-rules-'));
    await feed.start();
  });
  after(async () => {
    await feed.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('SIGHUP: new rules from the next entry, nothing missed or doubled; an invalid file is refused and the old rules stay', async () => {
    const watchFile = join(dir, 'hup.watch');
    await writeFile(watchFile, '~login-\n');
    const db = `sqlite:${join(dir, 'hup.sqlite')}`;
    const w = startWatcher(['--feed', feed.url, '--watch', watchFile, '--db', db]);
    try {
      await feed.client();
      const both = (i: number) => [`login-${i}.example`, `pay-${i}.example`];
      feed.send(certs(1, 50, both));
      await until(async () => 'the first 50 stored', async () => (await storedMatches(db)).length === 50);

      // The reload lands while entries are flowing: every entry is matched by the old rules or the new ones.
      await writeFile(watchFile, '~login-\n~pay-\n');
      feed.send(certs(51, 200, both));
      w.child.kill('SIGHUP');
      feed.send(certs(251, 200, both));
      await w.line('watch file reloaded');
      feed.send(certs(451, 50, both));
      await until(async () => 'entry 500 stored', async () => (await storedMatches(db)).some((m) => m.certIndex === 500 && m.rule === '~pay-'));
      const rows = await storedMatches(db);
      const login = rows.filter((m) => m.rule === '~login-').map((m) => m.certIndex);
      assert.deepEqual(login, Array.from({ length: 500 }, (_, i) => i + 1), 'every login- entry once, across the reload');
      const pay = rows.filter((m) => m.rule === '~pay-').map((m) => m.certIndex);
      assert.equal(new Set(pay).size, pay.length, 'nothing matched twice');
      assert.ok(pay[0] > 50, 'the new rule did not apply before the reload');
      assert.deepEqual(pay, Array.from({ length: 500 - pay[0] + 1 }, (_, i) => pay[0] + i), 'and applies to every entry from its first one on');

      // An invalid file: refused with the per-line messages, the old rules stay in force.
      await writeFile(watchFile, '~login-\n/(oops/\n~pay-\n');
      w.child.kill('SIGHUP');
      await w.line('watch file refused; the previous rules stay in force');
      assert.match(w.stderr(), new RegExp(`certstream-watch: ${watchFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2: '/\\(oops/': invalid regular expression`));
      feed.send(certs(501, 1, both));
      await until(async () => 'entry 501 stored', async () => (await storedMatches(db)).filter((m) => m.certIndex === 501).length === 2);
      w.child.kill('SIGTERM');
      assert.equal(await w.exited, 0, w.stderr());
    } finally {
      w.child.kill('SIGKILL');
    }
  });

  it('--regex-timeout 10 (below a worker start) still matches regex rules: the limit counts from the rule\'s start and is floored', async () => {
    const watchFile = join(dir, 'regex.watch');
    await writeFile(watchFile, '/^pay-[0-9]+\\./\n');
    const db = `sqlite:${join(dir, 'regex.sqlite')}`;
    const w = startWatcher(['--feed', feed.url, '--watch', watchFile, '--db', db, '--regex-timeout', '10']);
    try {
      await feed.client();
      await w.line('feed connected');
      feed.send(certs(1001, 20, (i) => [`pay-${i}.example`, `other-${i}.example`]));
      await until(async () => `${(await storedMatches(db)).length} of 20 stored`, async () => (await storedMatches(db)).length === 20, 30_000);
      w.child.kill('SIGTERM');
      assert.equal(await w.exited, 0, w.stderr());
      assert.equal(w.logs().filter((l) => l.msg === 'regex rule timed out; skipped for this batch').length, 0, 'nothing blamed');
    } finally {
      w.child.kill('SIGKILL');
    }
  });

  it('test --watch FILE NAME... prints the matching rules; exit 0 if any matched, 1 if none, 78 for an invalid file', async () => {
    const watchFile = join(dir, 'cmd.watch');
    await writeFile(watchFile, '# brand\nexample.com\n~paypal\n/^pay-[0-9]+\\./\nпример.рф\n');
    const r = cli('test', '--watch', watchFile, 'WWW.Example.com', 'pay-1.paypal.net', 'nothing.org', 'xn--e1afmkfd.xn--p1ai');
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.trimEnd().split('\n'), [
      'WWW.Example.com\texample.com\tline 2',
      'pay-1.paypal.net\t~paypal\tline 3',
      'pay-1.paypal.net\t/^pay-[0-9]+\\./\tline 4',
      'nothing.org\tno match',
      'xn--e1afmkfd.xn--p1ai\tпример.рф\tline 5',
    ]);
    const none = cli('test', '--watch', watchFile, 'nothing.org', 'example.org');
    assert.equal(none.status, 1);
    assert.equal(none.stdout, 'nothing.org\tno match\nexample.org\tno match\n');
    const bad = join(dir, 'bad.watch');
    await writeFile(bad, 'ok.com\n/(x/\n');
    const b = cli('test', '--watch', bad, 'ok.com');
    assert.equal(b.status, 78);
    assert.match(b.stderr, /bad\.watch:2: /);
    assert.equal(cli('test', '--watch', watchFile).status, 2);
  });
});
