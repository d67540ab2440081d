#!/usr/bin/env node
// Runs every test/**/*.test.ts with node:test. Node 20's --test does not expand globs and only picks up
// .js files by itself, so this script lists the files and loads TypeScript through tsx.
// Usage: node scripts/run-tests.mjs [substring-filter ...]
//
// Every test file has a time budget, so a broken follower or a forgotten socket fails the suite instead
// of hanging it. Node 20's --test-timeout bounds a whole file (each file is one test of the runner), not
// each test inside it; the tests' own `timeout` options bound single tests. --test-force-exit ends a file
// whose tests are done but which still holds a handle (a server left open), which would hang it too.
// The budget is CERTSTREAM_TEST_FILE_TIMEOUT milliseconds (default 300 s, far above any file's normal
// run, even on a loaded 2-core machine); files listed in LONG_FILES get theirs.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

/**
 * Files whose own tests allow longer than the default budget. The nspawn end-to-end test has a 480 s
 * timeout of its own (it boots systemd in a container and may build the root file system first).
 */
const LONG_FILES = new Map([[join('test', 'systemd', 'nspawn-e2e.test.ts'), 600_000]]);

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (name === 'fixtures' || name === 'node_modules') continue;
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

function budget() {
  const raw = process.env.CERTSTREAM_TEST_FILE_TIMEOUT;
  if (raw === undefined || raw === '') return 300_000;
  const ms = Number(raw);
  if (!Number.isInteger(ms) || ms <= 0) {
    console.error(`run-tests: CERTSTREAM_TEST_FILE_TIMEOUT must be a positive integer (milliseconds), got "${raw}"`);
    process.exit(2);
  }
  return ms;
}

const filters = process.argv.slice(2);
const files = walk('test').filter((f) => filters.length === 0 || filters.some((s) => f.includes(s))).sort();
if (files.length === 0) {
  console.error('run-tests: no test files matched');
  process.exit(1);
}
const defaultMs = budget();
// One runner per budget (--test-timeout is per invocation); most files share the default one.
const groups = new Map();
for (const f of files) {
  const ms = Math.max(defaultMs, LONG_FILES.get(f) ?? 0);
  groups.set(ms, [...(groups.get(ms) ?? []), f]);
}
let status = 0;
for (const [ms, group] of groups) {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--test', `--test-timeout=${ms}`, '--test-force-exit', '--test-reporter=spec', ...group],
    { stdio: 'inherit' },
  );
  if (r.status !== 0) status = r.status ?? 1;
}
process.exit(status);
