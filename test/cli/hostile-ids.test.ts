// Durable NAMEs that are Object.prototype members (`__proto__`, `constructor`, `toString`, ...) against the
// real daemon (spawned CLI): one upgrade to `/domains-only?id=__proto__` used to end the process within a
// second, and `constructor`-like names were never saved, so after a restart those clients resumed live and
// skipped what they missed. Each must be an ordinary name: the daemon stays up, every position is saved,
// and after a SIGTERM restart each client receives exactly what it missed.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { FakeCtLog } from '../../fake-ct-log/fake-ct-log.js';
import { range } from '../support/entry-collector.js';
import { readSavedPositions } from '../../src/stream/durable-positions.js';
import { DurableFeed } from '../support/durable-feed.js';
import { startDaemon, type Daemon } from '../support/spawned-daemon.js';
import { waitUntil } from '../support/wait-until.js';

const NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty'];

describe('certstream-server: durable NAMEs that are Object.prototype members', { timeout: 120_000 }, () => {
  let fake: FakeCtLog;
  let dir: string;
  before(async () => {
    fake = await FakeCtLog.start({ rfc6962Logs: 1, staticLogs: 0, initialSize: 16 });
    dir = await mkdtemp(join(tmpdir(), 'certstream-hostile-ids-'));
  });
  after(async () => {
    await fake.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps the daemon up, saves every position and resumes each NAME where it stopped', async () => {
    const log = fake.logs[0].url;
    const args = ['--durable-ping-interval', '0.1'];
    let d: Daemon = await startDaemon(fake.logListUrl, dir, args);
    let crashed: unknown;
    void d.exited.then((how) => (crashed = how));
    let port = d.port;
    const feeds = NAMES.map((n) => new DurableFeed(() => `ws://127.0.0.1:${port}/full-stream?id=${n}`));
    // The exact upgrade that ended the process, on the domains stream (answers pings, confirms positions).
    const domains = new WebSocket(`ws://127.0.0.1:${port}/domains-only?id=__proto__`);
    const domainsPinged = new Promise<void>((resolve) => domains.once('ping', () => resolve()));
    domains.on('error', () => undefined);
    try {
      await waitUntil('every feed connected', 10_000, () => feeds.every((f) => f.connected) && domains.readyState === WebSocket.OPEN);
      const first = fake.size(log);
      fake.append(50, log);
      for (const [i, f] of feeds.entries()) {
        await f.until(`${NAMES[i]}: the 50 live entries`, 30_000, () => f.received(log).has(first + 49));
      }
      await domainsPinged;
      // Every NAME's position reaches the file (pings every 0.1 s, flush every second).
      await waitUntil('every NAME in the positions files', 20_000, async () => {
        const saved = await readSavedPositions(dir);
        return NAMES.every((n) => saved.get(n)?.has('full')) && saved.get('__proto__')?.has('domains') === true;
      });
      assert.equal(crashed, undefined, 'the daemon is still running');
      const metrics = await fetch(`http://127.0.0.1:${port}/metrics`);
      assert.equal(metrics.status, 200);
      assert.match(await metrics.text(), /certstream_durable_subscriptions 5/);

      // Away while 75 entries arrive, then a SIGTERM restart: each NAME resumes from its position.
      for (const f of feeds) f.close();
      domains.terminate();
      fake.append(75, log);
      await waitUntil('the daemon to read the 75 entries', 20_000, async () => {
        const h = (await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as { logs: { next_index: number }[] };
        return h.logs[0].next_index === fake.size(log);
      });
      d.child.kill('SIGTERM');
      assert.equal(await d.exited, 0, 'clean exit after SIGTERM');
      d = await startDaemon(fake.logListUrl, dir, args);
      port = d.port;
      const again = NAMES.map((n) => new DurableFeed(() => `ws://127.0.0.1:${port}/full-stream?id=${n}`));
      try {
        for (const [i, f] of again.entries()) {
          await f.until(`${NAMES[i]}: the 75 entries missed while away`, 30_000, () => f.received(log).has(fake.size(log) - 1));
        }
        for (const [i, f] of feeds.entries()) {
          const all = new Set([...f.received(log), ...again[i].received(log)]);
          const mine = [...all].filter((x) => x >= first).sort((a, b) => a - b);
          assert.deepEqual(mine, range(first, fake.size(log)), `${NAMES[i]} missed nothing`);
        }
      } finally {
        for (const f of again) f.close();
      }
    } finally {
      for (const f of feeds) f.close();
      domains.terminate();
      d.child.kill('SIGTERM');
      await d.exited;
    }
  });
});
