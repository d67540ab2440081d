// Operator mistakes at start (issue 10 items 5, 6, 12): each is refused with exit 78 and ONE line on
// stderr, and nothing in the state directory is changed by a refused start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lookup } from 'node:dns/promises';
import { appendFileSync, chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { CURSOR_FILE } from '../../src/ct/cursor-store.js';
import { Renderer } from '../../src/render/renderer.js';
import { LocalReplayWindow, REPLAY_DIR } from '../../src/replay/local-replay-window.js';
import { LOCK_FILE } from '../../src/state/state-lock.js';
import { POSITIONS_FILE } from '../../src/stream/durable-positions.js';
import { RFC6962_LOG, rfc6962Entries } from '../x509/corpus.js';
import { startFake, tempDir } from '../server/server-harness.js';
import { run, type Run } from './run-cli.js';

/** Waits for exit and returns stderr's lines; asserts the exit code. */
async function refused(r: Run, code = 78): Promise<string[]> {
  // A daemon that starts instead of refusing fails the test at once rather than at its timeout.
  const started = r.line('listening').then(
    () => assert.fail(`started instead of refusing: ${r.stderr()}`),
    () => new Promise<never>(() => {}),
  );
  const exit = await Promise.race([r.exit, started]);
  assert.equal(exit.code, code, `stderr: ${r.stderr()}\nstdout: ${r.stdout.join('\n')}`);
  assert.ok(!/\n\s+at /.test(r.stderr()), 'no stack trace');
  return r.stderr().trimEnd().split('\n');
}

function stopOnExit(t: { after(fn: () => void): void }, r: Run): void {
  t.after(() => {
    if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
  });
}

test('a second daemon on the same state dir exits 78 naming the first one; the lock goes at exit', { timeout: 120_000 }, async (t) => {
  const fake = await startFake(t);
  const dir = await tempDir(t);
  const args = ['--host', '127.0.0.1', '--port', '0', '--log-list', fake.logListUrl, '--state-dir', dir];
  const first = run(args);
  stopOnExit(t, first);
  await first.line('listening');
  assert.equal(readFileSync(join(dir, LOCK_FILE), 'utf8'), `${first.child.pid}\n`);

  const second = run(args);
  assert.deepEqual(await refused(second), [
    `certstream-server: --state-dir ${dir}: in use by another certstream-server (PID ${first.child.pid}); stop it or choose another --state-dir`,
  ]);
  assert.ok(!second.stdout.some((l) => l.includes('"listening"')), 'the second one never listened');

  first.child.kill('SIGTERM');
  assert.equal((await first.exit).code, 0, first.stderr());
  assert.equal(existsSync(join(dir, LOCK_FILE)), false, 'released on exit');
});

test('a stale lock (kill -9) is taken over with a warning', { timeout: 120_000 }, async (t) => {
  const fake = await startFake(t);
  const dir = await tempDir(t);
  const args = ['--host', '127.0.0.1', '--port', '0', '--log-list', fake.logListUrl, '--state-dir', dir];
  const killed = run(args);
  stopOnExit(t, killed);
  await killed.line('listening');
  killed.child.kill('SIGKILL');
  assert.equal((await killed.exit).signal, 'SIGKILL');
  assert.equal(readFileSync(join(dir, LOCK_FILE), 'utf8'), `${killed.child.pid}\n`, 'left behind by kill -9');

  const next = run(args);
  stopOnExit(t, next);
  const warning = await next.line('took over a stale state directory lock: its process is gone');
  assert.equal(warning.pid, killed.child.pid);
  await next.line('listening');
  assert.equal(readFileSync(join(dir, LOCK_FILE), 'utf8'), `${next.child.pid}\n`);
  next.child.kill('SIGTERM');
  assert.equal((await next.exit).code, 0);
});

test('--reset-state with the port in use: exit 78, one line, the cursor file untouched', { timeout: 120_000 }, async (t) => {
  const fake = await startFake(t);
  const dir = await tempDir(t);
  const cursors = `{"version":1,"logs":{"${fake.logs[0]!.url}":7}}\n`;
  writeFileSync(join(dir, CURSOR_FILE), cursors);
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.after(() => blocker.close());
  const port = (blocker.address() as AddressInfo).port;
  const r = run(['--host', '127.0.0.1', '--port', String(port), '--log-list', fake.logListUrl, '--state-dir', dir, '--reset-state']);
  const lines = await refused(r);
  assert.equal(lines.length, 1, lines.join('\n'));
  assert.match(lines[0]!, new RegExp(`^certstream-server: --host 127\\.0\\.0\\.1 --port ${port}: cannot listen: the port is already in use .*\\(EADDRINUSE\\)`));
  assert.equal(readFileSync(join(dir, CURSOR_FILE), 'utf8'), cursors, 'nothing written before the listener is bound');
  assert.equal(existsSync(join(dir, LOCK_FILE)), false);
});

/** Every file and directory under `dir` with its bytes (directories as null), by relative path. */
function snapshot(dir: string, prefix = ''): Map<string, Buffer | null> {
  const out = new Map<string, Buffer | null>();
  for (const name of readdirSync(join(dir, prefix)).sort()) {
    const rel = join(prefix, name);
    if (statSync(join(dir, rel)).isDirectory()) {
      out.set(rel, null);
      for (const [k, v] of snapshot(dir, rel)) out.set(k, v);
    } else out.set(rel, readFileSync(join(dir, rel)));
  }
  return out;
}

test('the port in use with a replay window to repair: exit 78, the state dir byte-for-byte unchanged', { timeout: 120_000 }, async (t) => {
  const fake = await startFake(t);
  const dir = await tempDir(t);
  writeFileSync(join(dir, CURSOR_FILE), `{"version":1,"logs":{"${fake.logs[0]!.url}":7}}\n`);
  writeFileSync(join(dir, POSITIONS_FILE), '{"version":1,"positions":{"alice":{"lite":3}}}\n');
  // A window left by a kill -9 long ago: its segments are older than --replay-window (opening it would
  // drop them) and the last one ends in a torn record (opening it would cut it).
  const renderer = new Renderer();
  const entries = rfc6962Entries()
    .filter((e, i, all) => i === 0 || e.index > all[i - 1]!.index)
    .slice(0, 30)
    .map((e) => ({ log: RFC6962_LOG.url, index: e.index, seen: 1_700_000_000, ...renderer.render(RFC6962_LOG, e, 1_700_000_000) }));
  const w = LocalReplayWindow.open({ stateDir: dir, windowSeconds: 1e9, maxBytes: 1e9, segmentBytes: 20_000, now: () => 1_700_000_000_000 });
  for (let i = 0; i < entries.length; i += 5) w.append(entries.slice(i, i + 5));
  await w.close();
  const segments = readdirSync(join(dir, REPLAY_DIR)).sort();
  assert.ok(segments.length > 1, `several segments: ${segments.join(' ')}`);
  appendFileSync(join(dir, REPLAY_DIR, segments.at(-1)!), Buffer.from([200, 1, 0, 0, 7, 7, 7, 7, 1, 2, 3]));
  const before = snapshot(dir);

  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.after(() => blocker.close());
  const port = (blocker.address() as AddressInfo).port;
  const r = run(['--host', '127.0.0.1', '--port', String(port), '--log-list', fake.logListUrl, '--state-dir', dir]);
  const lines = await refused(r);
  assert.equal(lines.length, 1, lines.join('\n'));
  assert.match(lines[0]!, /cannot listen: the port is already in use .*\(EADDRINUSE\)/);
  assert.deepEqual(snapshot(dir), before, 'nothing in the state directory touched before the listener is bound');
});

test('a --host that is not on this machine or does not resolve: exit 78, one line', { timeout: 120_000 }, async (t) => {
  const dir = await tempDir(t);
  // 192.0.2.1 is TEST-NET-1: never a local address.
  const foreign = run(['--host', '192.0.2.1', '--port', '0', '--state-dir', dir]);
  const lines = await refused(foreign);
  assert.equal(lines.length, 1, lines.join('\n'));
  assert.match(lines[0]!, /^certstream-server: --host 192\.0\.2\.1 --port 0: cannot listen: the address is not one of this machine \(EADDRNOTAVAIL\)/);

  const name = 'no-such-host.invalid';
  const resolverSays = await lookup(name).then(() => 'resolved', (err: NodeJS.ErrnoException) => err.code);
  if (resolverSays !== 'ENOTFOUND') {
    t.diagnostic(`the resolver answers ${resolverSays} for ${name} here (no DNS?): the unresolvable-name case is not checked`);
    return;
  }
  const unresolvable = run(['--host', name, '--port', '0', '--state-dir', dir]);
  const one = await refused(unresolvable);
  assert.equal(one.length, 1, one.join('\n'));
  assert.match(one[0]!, /^certstream-server: --host no-such-host\.invalid --port 0: cannot listen: the host name does not resolve \(ENOTFOUND\)/);
});

test('a state dir whose parent is read-only: exit 78 saying which directory is not writable', { timeout: 120_000 }, async (t) => {
  const dir = await tempDir(t);
  const readOnly = join(dir, 'ro');
  mkdirSync(readOnly, { mode: 0o755 });
  // Root may write anywhere: run the daemon as nobody then; otherwise take our own write permission away.
  const asRoot = process.getuid?.() === 0;
  if (asRoot) chmodSync(dir, 0o755);
  else chmodSync(readOnly, 0o555);
  const stateDir = join(readOnly, 'a', 'state');
  const r = run(['--port', '0', '--state-dir', stateDir], { HOME: '/tmp' }, asRoot ? 65534 : undefined);
  assert.deepEqual(await refused(r), [`certstream-server: --state-dir ${stateDir}: cannot create it: ${readOnly} is not writable (EACCES)`]);
});

test('a user agent with non-ASCII or control characters: exit 78, one line', { timeout: 60_000 }, async () => {
  const r = run(['--user-agent', 'certstream (ops@exämple.org)']);
  const lines = await refused(r);
  assert.deepEqual(lines, ['certstream-server: --user-agent: "certstream (ops@exämple.org)" may hold only printable ASCII (found "ä")']);
});

test('a log list and filters that select no log: exit 78 unless --allow-empty, which starts with a warning', { timeout: 120_000 }, async (t) => {
  const fake = await startFake(t);
  const dir = await tempDir(t);
  const args = ['--host', '127.0.0.1', '--port', '0', '--log-list', fake.logListUrl, '--state-dir', dir, '--logs-include', 'argonn-typo'];
  const lines = await refused(run(args));
  assert.equal(lines.length, 1, lines.join('\n'));
  assert.match(lines[0]!, /^certstream-server: no log to follow: the log list .* selects none \(fix them, or --allow-empty to start anyway\)$/);
  assert.equal(existsSync(join(dir, CURSOR_FILE)), false);

  const allowed = run([...args, '--allow-empty']);
  stopOnExit(t, allowed);
  await allowed.line('no log to follow (--allow-empty): streaming nothing until the log list changes');
  const listening = await allowed.line('listening');
  assert.equal(listening.logs, 0);
  allowed.child.kill('SIGTERM');
  assert.equal((await allowed.exit).code, 0);
});
