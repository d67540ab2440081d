// The fake CT log's command line (npm run fake-ct-log): --help prints the usage and exits 0; a usage
// mistake is one line on stderr and exit 2, never a stack trace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '../..');

function fakeCli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'fake-ct-log/cli.ts', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('--help prints the usage and exits 0', () => {
  for (const flag of ['--help', '-h']) {
    const r = fakeCli([flag]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.match(r.stdout, /^Usage: npm run fake-ct-log -- \[options\]/);
    for (const option of ['--host', '--port', '--rate', '--rfc6962-logs', '--static-logs', '--initial-size', '--max-get-entries', '--log-list-file']) {
      assert.ok(r.stdout.includes(option), option);
    }
  }
});

test('an unknown option or a bad number: one line, exit 2', () => {
  const unknown = fakeCli(['--frobnicate']);
  assert.equal(unknown.code, 2);
  assert.equal(unknown.stdout, '');
  assert.match(unknown.stderr, /^fake-ct-log: Unknown option '--frobnicate'.* \(see --help\)\n$/);
  const bad = fakeCli(['--rate', 'fast']);
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr, 'fake-ct-log: --rate must be a non-negative number, got "fast" (see --help)\n');
});
