// scripts/run-tests.mjs must fail a test file that hangs (a follower that never settles, a server left
// open) within its time budget instead of hanging the whole suite.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const RUNNER = resolve('scripts/run-tests.mjs');

/** Runs the runner in `cwd`; kills it after `deadlineMs` (then `code` is null and `killed` true). */
function runRunner(cwd: string, env: Record<string, string>, deadlineMs: number): Promise<{ code: number | null; killed: boolean; out: string }> {
  return new Promise((done) => {
    // NODE_TEST_CONTEXT would make the inner runner think it runs inside this test and skip its files.
    const { NODE_TEST_CONTEXT: _inner, ...outer } = process.env;
    const child = spawn(process.execPath, [RUNNER], { cwd, env: { ...outer, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (out += c));
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, deadlineMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      done({ code, killed, out });
    });
  });
}

test('a hanging test file fails within the budget instead of hanging the suite', { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'run-tests-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'test'));
  // tsx is resolved from the working directory.
  symlinkSync(resolve('node_modules'), join(dir, 'node_modules'), 'dir');
  // An open server and a promise that never settles: without a budget this never ends.
  writeFileSync(
    join(dir, 'test', 'hang.test.ts'),
    "import { test } from 'node:test';\nimport { createServer } from 'node:net';\n" +
      "test('never settles', async () => { createServer().listen(0, '127.0.0.1'); await new Promise(() => {}); });\n",
  );
  writeFileSync(join(dir, 'test', 'fine.test.ts'), "import { test } from 'node:test';\ntest('passes', () => {});\n");
  const r = await runRunner(dir, { CERTSTREAM_TEST_FILE_TIMEOUT: '3000' }, 90_000);
  assert.equal(r.killed, false, `the runner hung:\n${r.out}`);
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /timed out after 3000ms/);
  assert.match(r.out, /passes/, 'the other file still ran');
});

test('a bad budget is refused with one line', { timeout: 60_000 }, async () => {
  const r = await runRunner(process.cwd(), { CERTSTREAM_TEST_FILE_TIMEOUT: 'soon' }, 30_000);
  assert.equal(r.code, 2, r.out);
  assert.equal(r.out.trim(), 'run-tests: CERTSTREAM_TEST_FILE_TIMEOUT must be a positive integer (milliseconds), got "soon"');
});
