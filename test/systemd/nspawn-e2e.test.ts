// End-to-end test of the systemd integration on a real systemd 252, booted with systemd-nspawn from a
// cached debootstrap tree (issue 5 §3). The fake CT log runs in this process on the host's loopback
// (shared with the container); scripts/install.sh installs the app inside the container; a WebSocket
// client on the host follows the stream across restarts. Steps:
//   install (enable --now) → active only after READY, /healthz answers → kill -9 → NRestarts up, stream
//   resumes without lost or repeated entries → the health timer's probe runs and passes → SIGSTOP with a
//   short WatchdogSec → watchdog restart → systemctl stop exits 0 with the cursors flushed → a config
//   error (exit 78) does not restart-loop → uninstall.
// Needs root, systemd-nspawn and debootstrap; without them it SKIPs loudly (and fails when CI is set
// while running as root, because .ci/run installs both there).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { NspawnContainer, ensureRootfs, nspawnUnavailableReason, stepper, until } from './nspawn-container.js';
import { StreamCollector } from './stream-collector.js';
import { freePort } from '../support/free-port.js';
import { TestCa } from '../support/tls-certs.js';
import { upgrade } from '../support/ws-upgrade.js';

/** The part of FakeCtLog (fake-ct-log/fake-ct-log.ts) this test uses. */
interface FakeLog {
  readonly logListUrl: string;
  readonly logs: readonly { url: string; name: string; kind: 'rfc6962' | 'static' }[];
  size(logUrl: string): number;
  append(count: number, logUrl?: string): void;
  close(): Promise<void>;
}

const FAKE_LOG_MODULE = resolve('fake-ct-log/fake-ct-log.ts');
const SERVER_ENTRY = resolve('src/cli/certstream-server.ts');
const INITIAL = 40;
const E2E_TOKEN = 'e2e-s3cret-token';

const envReason = nspawnUnavailableReason();

function skipReason(): string | undefined {
  if (envReason !== undefined) return envReason;
  if (!existsSync(FAKE_LOG_MODULE)) return 'fake-ct-log/fake-ct-log.ts is missing';
  if (!existsSync(SERVER_ENTRY)) return 'src/cli/certstream-server.ts (the daemon) is missing';
  return undefined;
}

const reason = skipReason();
if (reason !== undefined) {
  process.stderr.write(
    `\n${'*'.repeat(100)}\n*** SKIP nspawn end-to-end test of the systemd units: ${reason}.\n` +
      `*** The units were NOT tested on a real systemd. Run as root with systemd-container and debootstrap installed.\n${'*'.repeat(100)}\n\n`,
  );
}
const mustRun = process.env.CI !== undefined && process.getuid?.() === 0;

// .ci/run installs systemd-container and debootstrap when it runs as root: then nothing may stop the e2e.
test('CI as root can run the nspawn end-to-end test', { skip: !mustRun }, () => {
  assert.equal(envReason, undefined, `CI runs as root but the nspawn e2e cannot run: ${envReason}`);
});



function assertContiguous(indexes: number[], from: number, to: number, log: string): void {
  const expected = Array.from({ length: to - from }, (_, i) => from + i);
  assert.deepEqual(indexes, expected, `${log}: expected every cert_index ${from}..${to - 1} exactly once, in order`);
}

test('systemd units on a real systemd (nspawn): readiness, restarts, watchdog, health timer, stop, config error', { skip: reason, timeout: 480_000 }, async (t) => {
  const rootfs = ensureRootfs();
  const work = mkdtempSync(join(tmpdir(), 'certstream-e2e-'));
  const stage = join(work, 'stage');
  const staged = spawnSync('bash', ['scripts/install.sh', '--stage', stage], { encoding: 'utf8' });
  assert.equal(staged.status, 0, `install.sh --stage failed:\n${staged.stdout}${staged.stderr}`);

  const { FakeCtLog } = (await import(pathToFileURL(FAKE_LOG_MODULE).href)) as {
    FakeCtLog: { start(o: { rfc6962Logs: number; staticLogs: number; initialSize: number }): Promise<FakeLog> };
  };
  const fake = await FakeCtLog.start({ rfc6962Logs: 1, staticLogs: 1, initialSize: INITIAL });
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const collector = new StreamCollector(`ws://127.0.0.1:${port}/`);
  // TLS and tokens for the LoadCredential= step: a CA and a leaf made here, bound read-only into the container.
  const ca = TestCa.create();
  const leaf = ca.leaf();
  const tlsDir = join(work, 'tls');
  mkdirSync(tlsDir);
  copyFileSync(leaf.certFile, join(tlsDir, 'tls.crt'));
  copyFileSync(leaf.keyFile, join(tlsDir, 'tls.key'));
  writeFileSync(join(tlsDir, 'tokens'), `e2e ${createHash('sha256').update(E2E_TOKEN).digest('hex')}\n`);
  const container = await NspawnContainer.boot(rootfs, work, [{ host: stage, container: '/stage', readOnly: true }, { host: tlsDir, container: '/tls', readOnly: true }]);
  const cursorFile = '/var/lib/private/certstream-server/cursors.json';
  const healthz = async (): Promise<{ status: string; logs: { url: string; lag: number; next_index: number; last_success: number | null }[] }> => {
    const res = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(5000) });
    return (await res.json()) as never;
  };
  // A log's value is `{ next, verifier }` (the cursor and its verified compact range, one write).
  const cursors = async (): Promise<Record<string, { next: number }>> =>
    ((JSON.parse(await container.sh(`cat ${cursorFile}`)) as { logs: Record<string, { next: number }> }).logs);
  const cursorOf = (c: Record<string, { next: number }>, url: string): number | undefined => {
    for (const [k, v] of Object.entries(c)) if (k.replace(/\/+$/, '') === url.replace(/\/+$/, '')) return v.next;
    return undefined;
  };
  /** Appends n entries to every log and waits until the host client saw them all and the cursors say so. */
  const appendAndSettle = async (n: number): Promise<void> => {
    for (const l of fake.logs) fake.append(n, l.url);
    mark(`appended ${n} entries to every log`);
    await collector.waitFor(
      () => fake.logs.every((l) => collector.received(l.url).at(-1) === fake.size(l.url) - 1),
      60_000,
      `the last appended entry of every log on the stream`,
    );
    mark('all of them on the stream');
    await until('the cursor file to reach every head', 30_000, async () => {
      const c = await cursors();
      return fake.logs.every((l) => cursorOf(c, l.url) === fake.size(l.url)) ? true : undefined;
    });
    mark('cursor file at every head');
  };

  const t0 = Date.now();
  const mark = (what: string): void => t.diagnostic(`  ${((Date.now() - t0) / 1000).toFixed(1)} s: ${what}`);
  const step = stepper(t);

  try {
    await step('install.sh installs and starts the service; it is active only after READY', async () => {
      await container.sh(
        [
          // An operator's edited defaults file, present before the install: install.sh must keep it.
          `printf '%s\\n' CERTSTREAM_HOST=127.0.0.1 CERTSTREAM_PORT=${port} 'CERTSTREAM_LOG_LIST=${fake.logListUrl}'` +
            ` CERTSTREAM_POLL_INTERVAL=0.3 CERTSTREAM_HEARTBEAT_INTERVAL=1 > /etc/default/certstream-server`,
          // Probe every few seconds instead of every minute, so the test sees the timer at work.
          'mkdir -p /etc/systemd/system/certstream-server-health.timer.d',
          `printf '[Timer]\\nOnActiveSec=\\nOnActiveSec=1s\\nOnUnitInactiveSec=2s\\nAccuracySec=100ms\\n' > /etc/systemd/system/certstream-server-health.timer.d/e2e.conf`,
        ].join(' && '),
      );
      // Type=notify: `systemctl start` (inside enable --now) returns only after READY=1, which the
      // daemon sends once it listens; so /healthz must answer right after install.sh returns.
      const out = await container.sh(
        `/stage/scripts/install.sh --prebuilt /stage && node -e "fetch('${base}/healthz').then(r => console.log('HEALTHZ', r.status))"`,
      );
      assert.match(out, /kept your edited \/etc\/default\/certstream-server/);
      assert.match(out, /HEALTHZ (200|503)/);
      const s = await container.show('certstream-server.service', 'Type', 'ActiveState', 'NotifyAccess', 'StatusText', 'NRestarts');
      assert.equal(s.Type, 'notify');
      assert.equal(s.ActiveState, 'active');
      assert.equal(s.NotifyAccess, 'all');
      assert.equal(s.NRestarts, '0');
      // The journal shows the daemon listening before systemd calls the unit started.
      const journal = await container.sh('journalctl -u certstream-server.service -o cat --no-pager');
      const listening = journal.search(/"msg":"listening"/);
      const started = journal.search(/Started certstream-server\.service/);
      assert.ok(listening >= 0 && started > listening, `listening before Started:\n${journal}`);
      assert.equal(await container.sh('systemctl is-enabled certstream-server.service certstream-server-health.timer'), 'enabled\nenabled\n');
    });

    await step('/healthz answers and every fake log gets polled', async () => {
      const h = await until('every log polled once', 30_000, async () => {
        const b = await healthz();
        return b.logs.length === fake.logs.length && b.logs.every((l) => l.last_success !== null) ? b : undefined;
      });
      assert.ok(h.status === 'ok' || h.status === 'degraded', h.status);
      for (const l of h.logs) assert.equal(l.next_index, INITIAL, `${l.url} starts at the head (backfill 0)`);
      // The memory_release addon loads under the unit's hardening and trims the C heap (every 2 s by default).
      await until('a C heap trim under the unit', 30_000, async () => {
        const text = await (await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
        return Number(/^certstream_memory_releases_total\{kind="c_heap"\} (\S+)$/m.exec(text)?.[1] ?? 0) > 0 ? true : undefined;
      });
      collector.start();
      await collector.waitFor(() => collector.open, 10_000, 'the host client to connect');
    });

    await step('kill -9 of the main PID: restarted, stream resumes without lost or repeated entries', async () => {
      await appendAndSettle(10);
      const before = await container.show('certstream-server.service', 'MainPID', 'NRestarts');
      const connects = collector.connects;
      await container.sh(`kill -9 ${before.MainPID}`);
      const after = await until('an automatic restart', 30_000, async () => {
        const s = await container.show('certstream-server.service', 'MainPID', 'NRestarts', 'ActiveState');
        return s.ActiveState === 'active' && s.MainPID !== before.MainPID && s.MainPID !== '0' ? s : undefined;
      });
      assert.equal(Number(after.NRestarts), Number(before.NRestarts) + 1);
      mark('restarted after kill -9');
      await collector.waitFor(() => collector.open && collector.connects > connects, 30_000, 'the client to reconnect');
      await appendAndSettle(10);
      for (const l of fake.logs) assertContiguous(collector.received(l.url), INITIAL, INITIAL + 20, l.url);
    });

    await step('the health timer runs the probe and it passes', async () => {
      const line = await until('a passing probe in the journal', 60_000, async () => {
        const j = await container.sh('journalctl -u certstream-server-health.service -o cat --no-pager');
        return /CERTSTREAM OK - .*/.exec(j)?.[0];
      });
      assert.match(line, /status ok, 2 logs/);
      const s = await container.show('certstream-server-health.timer', 'ActiveState', 'LastTriggerUSec');
      assert.equal(s.ActiveState, 'active');
      assert.notEqual(s.LastTriggerUSec, '');
    });

    await step('certaudit.service compares the local stream with the CT logs and serves /metrics', async () => {
      const metricsPort = await freePort();
      await container.sh(
        `printf '%s\\n' CERTAUDIT_B=ct 'CERTAUDIT_LOCAL_URL=ws://127.0.0.1:${port}/' 'CERTAUDIT_LOG_LIST=${fake.logListUrl}'` +
          ` CERTAUDIT_METRICS_PORT=${metricsPort} > /etc/default/certaudit && systemctl start certaudit.service`,
      );
      const metrics = await until('certaudit /metrics with both feeds up', 30_000, async () => {
        const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
        return /^certaudit_feed_up\{[^}]*\} 1$/m.test(text) ? text : undefined;
      });
      assert.match(metrics, /^certaudit_entries_total/m);
      const s = await container.show('certaudit.service', 'ActiveState', 'NRestarts');
      assert.deepEqual([s.ActiveState, s.NRestarts], ['active', '0']);
      await container.sh('systemctl stop certaudit.service');
      const stopped = await container.show('certaudit.service', 'Result', 'ExecMainStatus');
      assert.equal(stopped.Result, 'success', JSON.stringify(stopped));
    });

    await step('SIGSTOP: the watchdog restarts the wedged daemon', async () => {
      await container.sh(
        'mkdir -p /etc/systemd/system/certstream-server.service.d && ' +
          `printf '[Service]\\nWatchdogSec=3s\\nTimeoutAbortSec=3s\\n' > /etc/systemd/system/certstream-server.service.d/e2e-watchdog.conf && ` +
          'systemctl daemon-reload && systemctl restart certstream-server.service',
      );
      const healthy = await container.show('certstream-server.service', 'MainPID', 'NRestarts', 'WatchdogUSec');
      assert.equal(healthy.WatchdogUSec, '3s');
      // A healthy daemon keeps petting the watchdog: still the same process after 3 watchdog periods.
      await container.sh('sleep 9');
      const still = await container.show('certstream-server.service', 'MainPID', 'NRestarts', 'ActiveState');
      assert.deepEqual([still.MainPID, still.NRestarts, still.ActiveState], [healthy.MainPID, healthy.NRestarts, 'active']);
      const connects = collector.connects;
      await container.sh(`kill -STOP ${healthy.MainPID}`);
      const after = await until('a watchdog restart', 40_000, async () => {
        const s = await container.show('certstream-server.service', 'MainPID', 'NRestarts', 'ActiveState');
        return s.ActiveState === 'active' && s.MainPID !== healthy.MainPID && s.MainPID !== '0' ? s : undefined;
      });
      assert.equal(Number(after.NRestarts), Number(healthy.NRestarts) + 1);
      mark('restarted by the watchdog');
      const journal = await container.sh('journalctl -u certstream-server.service -o cat --no-pager');
      assert.match(journal, /Watchdog timeout/);
      await collector.waitFor(() => collector.open && collector.connects > connects, 30_000, 'the client to reconnect');
      await appendAndSettle(5);
      for (const l of fake.logs) assertContiguous(collector.received(l.url), INITIAL, INITIAL + 25, l.url);
      await container.sh('rm /etc/systemd/system/certstream-server.service.d/e2e-watchdog.conf && systemctl daemon-reload');
    });

    await step('systemctl stop: clean exit 0 with the cursors flushed', async () => {
      for (const l of fake.logs) fake.append(7, l.url);
      await collector.waitFor(
        () => fake.logs.every((l) => collector.received(l.url).at(-1) === fake.size(l.url) - 1),
        60_000,
        'the last entries on the stream',
      );
      await container.sh('systemctl stop certstream-server.service');
      const s = await container.show('certstream-server.service', 'ActiveState', 'Result', 'ExecMainCode', 'ExecMainStatus');
      assert.deepEqual([s.ActiveState, s.Result, s.ExecMainCode, s.ExecMainStatus], ['inactive', 'success', '1', '0']);
      const c = await cursors();
      for (const l of fake.logs) assert.equal(cursorOf(c, l.url), fake.size(l.url), `${l.url} cursor flushed at stop`);
      for (const l of fake.logs) assertContiguous(collector.received(l.url), INITIAL, INITIAL + 32, l.url);
    });

    await step('a configuration error (exit 78) does not restart-loop', async () => {
      await container.sh('echo CERTSTREAM_POLL_INTERVAL=banana >> /etc/default/certstream-server');
      const r = await container.run('systemctl start certstream-server.service');
      assert.notEqual(r.code, 0);
      const s = await container.show('certstream-server.service', 'ActiveState', 'SubState', 'ExecMainStatus', 'NRestarts');
      assert.deepEqual([s.ActiveState, s.SubState, s.ExecMainStatus, s.NRestarts], ['failed', 'failed', '78', '0']);
      // Longer than RestartSec=3s: a restart would have happened by now.
      await container.sh('sleep 4');
      const later = await container.show('certstream-server.service', 'ActiveState', 'NRestarts');
      assert.deepEqual([later.ActiveState, later.NRestarts], ['failed', '0']);
    });

    await step('TLS and tokens through LoadCredential=: root-only files, wss:// with a token, reload keeps the process', async () => {
      await container.sh(
        [
          "sed -i '/banana/d' /etc/default/certstream-server",
          'install -d -m 0700 /etc/certstream-server',
          'install -m 0600 /tls/tls.crt /tls/tls.key /tls/tokens /etc/certstream-server/',
          'mkdir -p /etc/systemd/system/certstream-server.service.d',
          'cp /opt/certstream-server/systemd/access/credentials.conf /etc/systemd/system/certstream-server.service.d/',
          'systemctl daemon-reload',
          'systemctl reset-failed certstream-server.service',
          'systemctl start certstream-server.service',
        ].join(' && '),
      );
      assert.equal(await container.sh('stat -c %a:%U /etc/certstream-server/tls.key /etc/certstream-server/tokens'), '600:root\n600:root\n');
      const wss = `wss://127.0.0.1:${port}/`;
      assert.equal((await upgrade(wss, { ca: ca.pem })).status, 401, 'no token: refused before the upgrade');
      const opened = await upgrade(`${wss}?token=${E2E_TOKEN}`, { ca: ca.pem });
      assert.equal(opened.status, 101);
      const first = await new Promise<string>((resolve) => opened.ws!.once('message', (d) => resolve(String(d))));
      assert.match(first, /"message_type":"(heartbeat|certificate_update)"/);
      const before = await container.show('certstream-server.service', 'MainPID', 'ActiveState');
      await container.sh('systemctl reload certstream-server.service');
      await until('the reload in the journal', 30_000, async () => {
        const j = await container.sh('journalctl -u certstream-server.service -o cat --no-pager');
        return /TLS certificate reloaded/.test(j) && /tokens reloaded/.test(j) ? true : undefined;
      });
      const after = await container.show('certstream-server.service', 'MainPID', 'ActiveState');
      assert.deepEqual(after, before, 'the same process, still active');
      await new Promise<string>((resolve) => opened.ws!.once('message', (d) => resolve(String(d))));
      assert.equal(opened.ws!.readyState, opened.ws!.OPEN, 'the open wss:// connection stayed');
      opened.ws!.close();
      const journal = await container.sh('journalctl -u certstream-server.service -o cat --no-pager');
      assert.ok(!journal.includes(E2E_TOKEN), 'no token text in the journal');
    });

    await step('install.sh --uninstall removes the units and the tree, keeps edited config and state', async () => {
      const out = await container.sh('/stage/scripts/install.sh --uninstall');
      assert.match(out, /kept your edited \/etc\/default\/certstream-server/);
      assert.match(out, /kept your edited \/etc\/default\/certaudit/);
      const left = await container.run(
        'ls /usr/local/lib/systemd/system/certstream-server.service /opt/certstream-server 2>&1; ' +
          `test -f ${cursorFile} && echo STATE-KEPT; systemctl is-enabled certstream-server.service 2>&1`,
      );
      assert.match(left.stdout, /system\/certstream-server\.service'?: No such file/);
      assert.match(left.stdout, /\/opt\/certstream-server'?: No such file/);
      assert.match(left.stdout, /STATE-KEPT/);
    });
  } catch (err) {
    process.stderr.write(`container console:\n${container.console()}\n`);
    throw err;
  } finally {
    collector.stop();
    const code = await container.poweroff();
    t.diagnostic(`systemd-nspawn exited with ${code}`);
    await fake.close();
    ca.remove();
    rmSync(work, { recursive: true, force: true });
  }
});
