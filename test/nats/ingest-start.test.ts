// An ingest node started while NATS is away (the CLI, as systemd runs it): it listens and says so at
// once (READY for a Type=notify unit), /healthz is degraded rather than down, and once NATS comes it
// follows its logs and publishes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeCtLog } from '../../fake-ct-log/fake-ct-log.js';
import { run } from '../cli/run-cli.js';
import { NatsServer, natsSkip } from '../support/nats-server.js';
import { waitUntil } from '../support/wait-until.js';

test('an ingest node listens while NATS is down, reports degraded, and publishes once NATS is up', { skip: natsSkip() }, async (t) => {
  const nats = await NatsServer.start();
  await nats.stop();
  const fake = await FakeCtLog.start({ rfc6962Logs: 1, staticLogs: 0, initialSize: 30 });
  const dir = await mkdtemp(join(tmpdir(), 'nats-ingest-'));
  const node = run(['--host', '127.0.0.1', '--port', '0', '--log-list', fake.logListUrl, '--state-dir', dir, '--nats', nats.url, '--role', 'ingest', '--backfill', '1000', '--poll-interval', '0.05']);
  t.after(async () => {
    node.child.kill('SIGTERM');
    await node.exit;
    await fake.close();
    await nats.dispose();
    await rm(dir, { recursive: true, force: true });
  });
  const listening = await node.line('listening');
  assert.equal(listening.role, 'ingest');
  const healthz = async () => (await (await fetch(`http://127.0.0.1:${String(listening.port)}/healthz`)).json()) as { status: string; nats: { connected: boolean; publish_pending: number | null }; logs: { next_index: number }[] };
  const before = await healthz();
  assert.equal(before.status, 'degraded');
  assert.equal(before.nats.connected, false);

  await nats.start();
  await node.line('ingest started');
  await waitUntil('the backfill is published', 20_000, async () => {
    const h = await healthz();
    // The follower handed all 30 on, and every one of them is acknowledged.
    return h.nats.connected && h.logs.length === 1 && h.logs[0].next_index === 30 && h.nats.publish_pending === 0 && h.status === 'ok';
  });
  const metrics = await (await fetch(`http://127.0.0.1:${String(listening.port)}/metrics`)).text();
  const published = metrics.split('\n').filter((l) => l.startsWith('certstream_nats_published_total'));
  assert.deepEqual(published, ['certstream_nats_published_total{result="stored"} 30']);
});
