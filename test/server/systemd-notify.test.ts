import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../src/log/logger.js';
import { SystemdNotifier, spawnSystemdNotify } from '../../src/systemd/notify.js';

/** A sender that records every call and lets the test wait for the n-th one. */
function recorder() {
  const calls: string[][] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  return {
    calls,
    send: async (args: readonly string[]) => {
      calls.push([...args]);
      for (const w of waiters.filter((x) => calls.length >= x.n)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    },
    until: (n: number) => (calls.length >= n ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ n, resolve }))),
  };
}

test('nothing at all without NOTIFY_SOCKET', { timeout: 60_000 }, async () => {
  const r = recorder();
  const n = new SystemdNotifier({ logger: silentLogger, env: { WATCHDOG_USEC: '1000' }, healthy: () => true, status: () => 's', send: r.send });
  assert.equal(n.enabled, false);
  assert.equal(n.watchdogIntervalMs, undefined);
  await n.ready();
  await n.stopping();
  assert.deepEqual(r.calls, []);
});

test('READY=1 with a status, then WATCHDOG=1 every WATCHDOG_USEC/2 while healthy only', { timeout: 60_000 }, async (t) => {
  // The notifier's timer is unref'd (it must not keep the daemon alive): hold the loop open meanwhile.
  const keepAlive = setInterval(() => {}, 1000);
  t.after(() => clearInterval(keepAlive));
  const r = recorder();
  let healthy = true;
  const n = new SystemdNotifier({
    logger: silentLogger,
    env: { NOTIFY_SOCKET: '/run/systemd/notify', WATCHDOG_USEC: '40000' },
    healthy: () => healthy,
    status: () => '3 logs, 2 clients, lag 0',
    send: r.send,
  });
  assert.equal(n.watchdogIntervalMs, 20);
  await n.ready();
  assert.deepEqual(r.calls[0], ['--ready', `--pid=${process.pid}`, '--status=3 logs, 2 clients, lag 0']);
  // Two pets while healthy. A tick that runs more than half a period late (a loaded machine) sends only
  // STATUS= by design, so wait for the pets rather than assume the next two ticks are on time.
  const pets = () => r.calls.filter((c) => c[0] === 'WATCHDOG=1').length;
  while (pets() < 2) await r.until(r.calls.length + 1);
  assert.ok(r.calls.slice(1).every((c) => c[0] === 'WATCHDOG=1' || c[0].startsWith('--status=')));
  healthy = false;
  const seen = r.calls.length;
  await r.until(seen + 2);
  // The tick already running when health changed may still pet; the one after must not.
  assert.ok(!r.calls[seen + 1].includes('WATCHDOG=1'));
  assert.ok(r.calls[seen + 1].some((a) => a.startsWith('--status=')));
  await n.stopping();
  assert.deepEqual(r.calls.at(-1), ['STOPPING=1', '--status=shutting down']);
});

test('a WATCHDOG_PID for another process disables the watchdog', { timeout: 60_000 }, () => {
  const n = new SystemdNotifier({
    logger: silentLogger,
    env: { NOTIFY_SOCKET: '/x', WATCHDOG_USEC: '1000000', WATCHDOG_PID: String(process.pid + 1) },
    healthy: () => true,
    status: () => '',
  });
  assert.equal(n.enabled, true);
  assert.equal(n.watchdogIntervalMs, undefined);
});

test('the default sender runs systemd-notify from PATH with the arguments', { timeout: 60_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'notify-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const out = join(dir, 'args');
  await writeFile(join(dir, 'systemd-notify'), `#!/bin/sh\nprintf '%s\\n' "$@" > '${out}'\n`);
  await chmod(join(dir, 'systemd-notify'), 0o755);
  const oldPath = process.env.PATH;
  process.env.PATH = `${dir}:${oldPath}`;
  t.after(() => {
    process.env.PATH = oldPath;
  });
  await spawnSystemdNotify(['--ready', '--status=up']);
  assert.equal(await readFile(out, 'utf8'), '--ready\n--status=up\n');
  await writeFile(join(dir, 'systemd-notify'), '#!/bin/sh\necho nope >&2\nexit 1\n');
  await assert.rejects(spawnSystemdNotify(['WATCHDOG=1']), /exited with 1: nope/);
});
