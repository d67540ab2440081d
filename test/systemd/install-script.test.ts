// scripts/install.sh without a real systemd: its refusals (not root, node too old), an idempotent
// install / reinstall / uninstall below a DESTDIR with a prebuilt tree, and the README's default path
// (build from this checkout, no --prebuilt) end to end. The install on a real systemd (daemon-reload,
// enable --now) is covered by nspawn-e2e.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const SCRIPT = resolve('scripts/install.sh');

function install(args: string[], env: Record<string, string> = {}, asUser?: number): { code: number | null; out: string } {
  const cmd = asUser === undefined ? ['bash', SCRIPT, ...args] : ['setpriv', `--reuid=${asUser}`, `--regid=${asUser}`, '--clear-groups', 'bash', SCRIPT, ...args];
  const [exe, ...rest] = cmd as [string, ...string[]];
  // The default path builds and runs npm ci: minutes on a loaded machine, but never unbounded.
  const r = spawnSync(exe, rest, { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 240_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

/** A minimal tree shaped like `install.sh --stage` output (the real build is exercised by the e2e). */
function fakeTree(dir: string): string {
  const tree = join(dir, 'tree');
  mkdirSync(join(tree, 'dist/cli'), { recursive: true });
  mkdirSync(join(tree, 'node_modules/ws'), { recursive: true });
  writeFileSync(join(tree, 'dist/cli/certstream-server.js'), '// stand-in\n');
  writeFileSync(join(tree, 'dist/cli/certaudit.js'), '// stand-in\n');
  cpSync('systemd', join(tree, 'systemd'), { recursive: true });
  return tree;
}

test('refuses clearly when not root', { skip: process.getuid?.() !== 0 && 'runs as root to drop to nobody' }, () => {
  const r = install([], {}, 65534);
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /install\.sh: error: must run as root/);
  const u = install(['--uninstall'], {}, 65534);
  assert.equal(u.code, 1, u.out);
  assert.match(u.out, /must run as root/);
});

test('refuses clearly when node is missing or too old', () => {
  const dir = mkdtempSync(join(tmpdir(), 'install-node-'));
  try {
    const old = join(dir, 'node18');
    writeFileSync(old, '#!/bin/sh\necho 18.19.1\n');
    chmodSync(old, 0o755);
    const tree = fakeTree(dir);
    const tooOld = install(['--prebuilt', tree], { CERTSTREAM_INSTALL_NODE: old, DESTDIR: join(dir, 'root') });
    assert.equal(tooOld.code, 1, tooOld.out);
    assert.match(tooOld.out, /is Node\.js 18\.19\.1; certstream-server needs >= 20\.19\.0/);
    const missing = install(['--prebuilt', tree], { CERTSTREAM_INSTALL_NODE: join(dir, 'nope'), DESTDIR: join(dir, 'root') });
    assert.equal(missing.code, 1, missing.out);
    assert.match(missing.out, /Node\.js is not installed at .*nope/);
    assert.equal(existsSync(join(dir, 'root/opt/certstream-server')), false, 'nothing installed after a refusal');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('DESTDIR install is idempotent, keeps an edited defaults file, and uninstalls cleanly', () => {
  const dir = mkdtempSync(join(tmpdir(), 'install-dest-'));
  try {
    const tree = fakeTree(dir);
    const root = join(dir, 'root');
    const env = { DESTDIR: root, CERTSTREAM_INSTALL_NODE: process.execPath };
    const first = install(['--prebuilt', tree], env);
    assert.equal(first.code, 0, first.out);
    assert.match(first.out, /--no-start/);
    for (const u of ['certstream-server.service', 'certstream-server-health.service', 'certstream-server-health.timer', 'certaudit.service', 'certstream-watch.service']) {
      assert.equal(readFileSync(join(root, 'usr/local/lib/systemd/system', u), 'utf8'), readFileSync(join('systemd', u), 'utf8'), u);
    }
    assert.ok(existsSync(join(root, 'opt/certstream-server/dist/cli/certstream-server.js')));
    const defaults = join(root, 'etc/default/certstream-server');
    assert.equal(readFileSync(defaults, 'utf8'), readFileSync('systemd/certstream-server.default', 'utf8'));

    // The operator edits the file; a reinstall must keep it and leave the new template beside it.
    writeFileSync(defaults, 'CERTSTREAM_PORT=4100\n');
    writeFileSync(join(tree, 'dist/cli/certstream-server.js'), '// stand-in, version 2\n');
    const second = install(['--prebuilt', tree], env);
    assert.equal(second.code, 0, second.out);
    assert.match(second.out, /kept your edited .*etc\/default\/certstream-server/);
    assert.equal(readFileSync(defaults, 'utf8'), 'CERTSTREAM_PORT=4100\n');
    assert.equal(readFileSync(`${defaults}.dist`, 'utf8'), readFileSync('systemd/certstream-server.default', 'utf8'));
    assert.equal(readFileSync(join(root, 'opt/certstream-server/dist/cli/certstream-server.js'), 'utf8'), '// stand-in, version 2\n');
    assert.equal(existsSync(join(root, 'opt/certstream-server.new')), false);
    assert.equal(existsSync(join(root, 'opt/certstream-server.old')), false);

    const gone = install(['--uninstall'], env);
    assert.equal(gone.code, 0, gone.out);
    assert.equal(existsSync(join(root, 'opt/certstream-server')), false);
    assert.equal(existsSync(join(root, 'usr/local/lib/systemd/system/certstream-server.service')), false);
    assert.equal(existsSync(join(root, 'etc/default/certaudit')), false, 'the unedited template goes');
    assert.equal(readFileSync(defaults, 'utf8'), 'CERTSTREAM_PORT=4100\n', 'the edited file stays');
    assert.equal(existsSync(`${defaults}.dist`), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the NATS role files are installed inactive, and uninstall removes the drop-in only when unedited', () => {
  const dir = mkdtempSync(join(tmpdir(), 'install-nats-'));
  try {
    const tree = fakeTree(dir);
    const root = join(dir, 'root');
    const env = { DESTDIR: root, CERTSTREAM_INSTALL_NODE: process.execPath };
    const shipped = join(root, 'opt/certstream-server/systemd/nats');
    const dropinDir = join(root, 'etc/systemd/system/certstream-server.service.d');
    const dropin = join(dropinDir, 'local-nats.conf');

    const first = install(['--prebuilt', tree], env);
    assert.equal(first.code, 0, first.out);
    for (const f of ['ingest.env', 'edge.env', 'local-nats.conf', 'nats-server.conf.example']) {
      assert.equal(readFileSync(join(shipped, f), 'utf8'), readFileSync(join('systemd/nats', f), 'utf8'), f);
    }
    // Nothing NATS-specific is active after an install: no drop-in, no role in /etc/default.
    assert.equal(existsSync(dropinDir), false);
    assert.equal(existsSync(join(root, 'usr/local/lib/systemd/system/certstream-server.service.d')), false);
    assert.doesNotMatch(readFileSync(join(root, 'etc/default/certstream-server'), 'utf8'), /^CERTSTREAM_ROLE=/m);

    // The admin installs the drop-in as the README says; an unedited copy goes with the uninstall.
    mkdirSync(dropinDir, { recursive: true });
    cpSync(join(shipped, 'local-nats.conf'), dropin);
    const gone = install(['--uninstall'], env);
    assert.equal(gone.code, 0, gone.out);
    assert.equal(existsSync(dropinDir), false, 'the unedited drop-in and its then empty directory are removed');

    // An edited one is the admin's: kept, unless --purge.
    assert.equal(install(['--prebuilt', tree], env).code, 0);
    mkdirSync(dropinDir, { recursive: true });
    writeFileSync(dropin, '[Unit]\nWants=nats-server.service\nAfter=my-vpn.service\n');
    const kept = install(['--uninstall'], env);
    assert.equal(kept.code, 0, kept.out);
    assert.match(kept.out, /kept your edited .*certstream-server\.service\.d\/local-nats\.conf/);
    assert.ok(existsSync(dropin));
    assert.equal(install(['--prebuilt', tree], env).code, 0);
    const purged = install(['--uninstall', '--purge'], env);
    assert.equal(purged.code, 0, purged.out);
    assert.equal(existsSync(dropin), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--prebuilt rejects a directory that is not a staged tree', () => {
  const dir = mkdtempSync(join(tmpdir(), 'install-bad-'));
  try {
    const r = install(['--prebuilt', dir], { DESTDIR: join(dir, 'root'), CERTSTREAM_INSTALL_NODE: process.execPath });
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /is not a tree made by --stage/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the default path (build from the checkout, no --prebuilt) installs, exits 0 and leaves no temp tree', { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'install-default-'));
  try {
    // A private TMPDIR: the script's mktemp lands here, so a left-behind build tree is visible.
    const scratch = join(dir, 'tmp');
    mkdirSync(scratch);
    const root = join(dir, 'root');
    const r = install([], { DESTDIR: root, CERTSTREAM_INSTALL_NODE: process.execPath, TMPDIR: scratch });
    assert.equal(r.code, 0, r.out);
    assert.doesNotMatch(r.out, /unbound variable/);
    assert.match(r.out, /installed .*\/opt\/certstream-server/);
    assert.deepEqual(readdirSync(scratch), [], 'the build tree in TMPDIR is removed');

    const prefix = join(root, 'opt/certstream-server');
    // Production dependencies only: the runtime ones are there, the toolchain is not.
    assert.ok(existsSync(join(prefix, 'node_modules/ws/package.json')));
    assert.equal(existsSync(join(prefix, 'node_modules/typescript')), false, 'no devDependencies');
    // Used only by tests, the fake log and benchmarks (issue 14 item 8): not installed with the service.
    assert.equal(existsSync(join(prefix, 'node_modules/@peculiar/x509')), false, '@peculiar/x509 is a devDependency');
    assert.equal(existsSync(join(prefix, 'node_modules/reflect-metadata')), false, 'reflect-metadata is a devDependency');
    // The installed daemon loads every module it needs from that tree.
    const help = spawnSync(process.execPath, [join(prefix, 'dist/cli/certstream-server.js'), '--help'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /--state-dir/);
    // certstream-watch's native SQLite driver works in the installed tree (npm ci there skips scripts).
    const sqlite = spawnSync(process.execPath, ['-e', "require('better-sqlite3')(':memory:')"], { cwd: prefix, encoding: 'utf8', timeout: 60_000 });
    assert.equal(sqlite.status, 0, sqlite.stderr);
    assert.equal(readFileSync(join(root, 'etc/default/certstream-server'), 'utf8'), readFileSync('systemd/certstream-server.default', 'utf8'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
