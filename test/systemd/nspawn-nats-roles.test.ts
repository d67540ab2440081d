// The NATS edge and ingest roles under the real unit on a real systemd 252 (systemd-nspawn, as nspawn-e2e.test.ts),
// configured the way the README says: install.sh, then systemd/nats/edge.env appended to
// /etc/default/certstream-server. On the host (shared loopback): a real nats-server with JetStream, the
// fake CT log and an `ingest` daemon. Checks: the edge becomes active (READY after listening) and
// streams what the host's ingest publishes; with a short WatchdogSec it keeps petting the watchdog
// although it follows no log; the health probe is skipped, not failed; while NATS is stopped the unit
// stays up (same PID, clients connected, /healthz degraded) and the stream goes on once NATS is back;
// `systemctl stop` is clean. Then the same node as a second ingest (ingest.env appended): stream requests
// get 503, and with the host's ingest active-active on the same log, each new entry is stored once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { NspawnContainer, ensureRootfs, nspawnUnavailableReason, stepper, until } from './nspawn-container.js';
import { StreamCollector } from './stream-collector.js';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import WebSocket from 'ws';
import { NatsServer, natsSkip } from '../support/nats-server.js';
import { startDaemon, type Daemon } from '../support/spawned-daemon.js';
import { freePort } from '../support/free-port.js';

interface FakeLog {
  readonly logListUrl: string;
  readonly logs: readonly { url: string }[];
  size(logUrl: string): number;
  append(count: number, logUrl?: string): void;
  close(): Promise<void>;
}

const FAKE_LOG_MODULE = resolve('fake-ct-log/fake-ct-log.ts');
const INITIAL = 20;

const reason = nspawnUnavailableReason() ?? (natsSkip() || undefined);
if (reason !== undefined) {
  process.stderr.write(`\n*** SKIP nspawn NATS roles test: ${reason}; the NATS roles were NOT tested under systemd ***\n\n`);
}



interface Healthz {
  status: string;
  logs: unknown[];
  nats?: { role: string; connected: boolean; last_seq: number | null; delivered_seq: number | null; publish_pending: number | null };
}

test('edge, then ingest role under certstream-server.service: ready, streams, watchdog, NATS outage, 503, stored once', { skip: reason, timeout: 280_000 }, async (t) => {
  const rootfs = ensureRootfs();
  const work = mkdtempSync(join(tmpdir(), 'certstream-nats-roles-'));
  const stage = join(work, 'stage');
  const staged = spawnSync('bash', ['scripts/install.sh', '--stage', stage], { encoding: 'utf8', timeout: 240_000 });
  assert.equal(staged.status, 0, `install.sh --stage failed:\n${staged.stdout}${staged.stderr}`);

  const { FakeCtLog } = (await import(pathToFileURL(FAKE_LOG_MODULE).href)) as {
    FakeCtLog: { start(o: { rfc6962Logs: number; staticLogs: number; initialSize: number }): Promise<FakeLog> };
  };
  const fake = await FakeCtLog.start({ rfc6962Logs: 1, staticLogs: 0, initialSize: INITIAL });
  const log = fake.logs[0]!.url;
  const nats = await NatsServer.start();
  let ingest: Daemon | undefined;
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const collector = new StreamCollector(`ws://127.0.0.1:${port}/`);
  const container = await NspawnContainer.boot(rootfs, work, [{ host: stage, container: '/stage', readOnly: true }], 60_000, 260);
  const healthz = async (): Promise<Healthz> => (await (await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(5000) })).json()) as Healthz;
  const received = (): number[] => collector.received(log);
  const step = stepper(t);

  try {
    await step('an ingest node on the host publishes the log to JetStream', async () => {
      ingest = await startDaemon(fake.logListUrl, join(work, 'ingest-state'), ['--nats', nats.url, '--role', 'ingest']);
      // (last_seq is an edge field: null on an ingest-only node.) JetStream acknowledged them all.
      await until('the ingest published the initial entries', 30_000, async () => {
        const text = await (await fetch(`http://127.0.0.1:${ingest!.port}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
        return /^certstream_nats_published_total\{result="stored"\} (\d+)$/m.exec(text)?.[1] === String(INITIAL) ? true : undefined;
      });
    });

    await step('install.sh, then edge.env appended as the README says: the unit is active only after READY', async () => {
      await container.sh('/stage/scripts/install.sh --prebuilt /stage --no-start');
      await container.sh(
        [
          'cat /opt/certstream-server/systemd/nats/edge.env >> /etc/default/certstream-server',
          // "put in your NATS servers' addresses"; this test's own port and loopback address.
          `sed -i 's|^CERTSTREAM_NATS=.*|CERTSTREAM_NATS=${nats.url}|' /etc/default/certstream-server`,
          `printf '%s\\n' CERTSTREAM_HOST=127.0.0.1 CERTSTREAM_PORT=${port} CERTSTREAM_HEARTBEAT_INTERVAL=1 >> /etc/default/certstream-server`,
          // A short watchdog, so that a daemon which stopped petting it (an edge has no log to poll)
          // would be killed within the test.
          'mkdir -p /etc/systemd/system/certstream-server.service.d',
          `printf '[Service]\\nWatchdogSec=3s\\nTimeoutAbortSec=3s\\n' > /etc/systemd/system/certstream-server.service.d/test-watchdog.conf`,
          'systemctl daemon-reload',
          'systemctl enable --now certstream-server.service certstream-server-health.timer',
        ].join(' && '),
      );
      const s = await container.show('certstream-server.service', 'ActiveState', 'NRestarts', 'WatchdogUSec');
      assert.deepEqual([s.ActiveState, s.NRestarts, s.WatchdogUSec], ['active', '0', '3s']);
      const journal = await container.sh('journalctl -u certstream-server.service -o cat --no-pager');
      const listening = journal.search(/"msg":"listening"/);
      assert.ok(listening >= 0 && journal.search(/Started certstream-server\.service/) > listening, journal);
      const h = await until('the edge connected to NATS', 30_000, async () => {
        const b = await healthz();
        return b.nats?.connected === true ? b : undefined;
      });
      assert.equal(h.nats?.role, 'edge');
      assert.deepEqual(h.logs, []);
    });

    await step('a client of the edge receives what the ingest publishes', async () => {
      collector.start();
      await collector.waitFor(() => collector.open, 10_000, 'the client to connect');
      // A plain client starts live at the stream's end: the entries appended from now on.
      fake.append(10, log);
      await collector.waitFor(() => received().at(-1) === INITIAL + 9, 30_000, 'the new entries through ingest → NATS → edge');
      assert.deepEqual(received(), Array.from({ length: 10 }, (_, i) => INITIAL + i));
    });

    await step('the edge keeps petting the watchdog and the health probe is skipped, not failed', async () => {
      const before = await container.show('certstream-server.service', 'MainPID', 'NRestarts');
      await container.sh('systemctl start certstream-server-health.service');
      // Three watchdog periods: a daemon that did not pet it would have been killed and restarted.
      await container.sh('sleep 9');
      const after = await container.show('certstream-server.service', 'MainPID', 'NRestarts', 'ActiveState');
      assert.deepEqual([after.MainPID, after.NRestarts, after.ActiveState], [before.MainPID, '0', 'active']);
      const probe = await container.sh('journalctl -u certstream-server-health.service -o cat --no-pager');
      assert.match(probe, /Skipped due to 'exec-condition'/);
      assert.doesNotMatch(probe, /CERTSTREAM (WARNING|CRITICAL|UNKNOWN)/);
      const failed = await container.run('systemctl is-failed --quiet certstream-server-health.service');
      assert.notEqual(failed.code, 0, 'the probe unit is not failed');
    });

    await step('NATS stopped: the unit stays up, clients stay connected, /healthz degraded; back: the stream goes on', async () => {
      const before = await container.show('certstream-server.service', 'MainPID');
      const connects = collector.connects;
      await nats.stop();
      const degraded = await until('/healthz degraded', 30_000, async () => {
        const b = await healthz();
        return b.status === 'degraded' && b.nats?.connected === false ? b : undefined;
      });
      assert.equal(degraded.nats?.role, 'edge');
      // Over three watchdog periods without NATS: not restarted (restarting would not bring NATS back).
      await container.sh('sleep 9');
      const during = await container.show('certstream-server.service', 'MainPID', 'NRestarts', 'ActiveState');
      assert.deepEqual([during.MainPID, during.NRestarts, during.ActiveState], [before.MainPID, '0', 'active']);
      assert.equal(collector.connects, connects, 'the client was not disconnected');
      assert.equal(collector.open, true);
      await nats.start();
      await until('/healthz ok again', 60_000, async () => ((await healthz()).status === 'ok' ? true : undefined));
      fake.append(5, log);
      await collector.waitFor(() => received().at(-1) === INITIAL + 14, 60_000, 'entries published after NATS came back');
      assert.deepEqual(received(), Array.from({ length: 15 }, (_, i) => INITIAL + i), 'nothing lost or repeated');
    });

    await step('systemctl stop: clean exit 0', async () => {
      await container.sh('systemctl stop certstream-server.service');
      const s = await container.show('certstream-server.service', 'ActiveState', 'Result', 'ExecMainStatus');
      assert.deepEqual([s.ActiveState, s.Result, s.ExecMainStatus], ['inactive', 'success', '0']);
    });

    await step('the same node as a second ingest (ingest.env appended): streams refused with 503, each entry stored once', async () => {
      const nc = await connect({ servers: nats.url, timeout: 5000 });
      try {
        const jsm = await jetstreamManager(nc, { timeout: 10_000 });
        const lastSeq = async (): Promise<number> => (await jsm.streams.info('CERTSTREAM')).state.last_seq;
        // Appended after edge.env: its later CERTSTREAM_ROLE line wins, as the README says.
        await container.sh(
          [
            'cat /opt/certstream-server/systemd/nats/ingest.env >> /etc/default/certstream-server',
            `sed -i 's|^CERTSTREAM_NATS=.*|CERTSTREAM_NATS=${nats.url}|' /etc/default/certstream-server`,
            `printf '%s\\n' 'CERTSTREAM_LOG_LIST=${fake.logListUrl}' CERTSTREAM_POLL_INTERVAL=0.2 >> /etc/default/certstream-server`,
            'systemctl start certstream-server.service',
          ].join(' && '),
        );
        const h = await until('the containerised ingest at the log head', 30_000, async () => {
          const b = await healthz();
          return b.nats?.role === 'ingest' && b.nats.connected && (b.logs as { next_index: number }[])[0]?.next_index === fake.size(log) ? b : undefined;
        });
        assert.equal(h.nats?.role, 'ingest');
        // A WebSocket stream request on an ingest node: HTTP 503, not an upgrade.
        const refused = await new Promise<number>((done, fail) => {
          const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
          ws.on('unexpected-response', (_req, res) => {
            done(res.statusCode ?? 0);
            ws.terminate();
          });
          ws.on('open', () => fail(new Error('an ingest node upgraded a stream request')));
          ws.on('error', () => undefined);
        });
        assert.equal(refused, 503);
        // Active-active with the host's ingest: both publish the new entries, JetStream stores each once.
        const before = await lastSeq();
        fake.append(7, log);
        await until('both ingest nodes past the new entries', 30_000, async () => {
          const b = await healthz();
          const hostMetrics = await (await fetch(`http://127.0.0.1:${ingest!.port}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
          const hostDone = /^certstream_nats_publish_pending 0$/m.test(hostMetrics);
          return (b.logs as { next_index: number }[])[0]?.next_index === fake.size(log) && b.nats?.publish_pending === 0 && hostDone ? true : undefined;
        });
        assert.equal(await lastSeq(), before + 7, 'each of the 7 entries stored once');
        const s = await container.show('certstream-server.service', 'ActiveState', 'NRestarts');
        assert.deepEqual([s.ActiveState, s.NRestarts], ['active', '0']);
        await container.sh('systemctl stop certstream-server.service');
        const stopped = await container.show('certstream-server.service', 'Result', 'ExecMainStatus');
        assert.deepEqual([stopped.Result, stopped.ExecMainStatus], ['success', '0']);
      } finally {
        await nc.close();
      }
    });
  } catch (err) {
    const journal = await container.run('journalctl -u certstream-server.service -o cat --no-pager | tail -40').catch(() => undefined);
    process.stderr.write(`edge journal:\n${journal?.stdout ?? '(unavailable)'}\ncontainer console:\n${container.console()}\n`);
    throw err;
  } finally {
    collector.stop();
    const code = await container.poweroff();
    t.diagnostic(`systemd-nspawn exited with ${code}`);
    if (ingest) {
      ingest.child.kill('SIGTERM');
      await ingest.exited;
    }
    await nats.dispose();
    await fake.close();
    rmSync(work, { recursive: true, force: true });
  }
});

// The test needs the built-in pieces it names; fail loudly instead of skipping when one went missing.
test('the nspawn NATS roles test has what it runs', () => {
  assert.ok(existsSync(FAKE_LOG_MODULE), FAKE_LOG_MODULE);
  assert.ok(existsSync('systemd/nats/edge.env') && existsSync('systemd/nats/ingest.env'));
});
