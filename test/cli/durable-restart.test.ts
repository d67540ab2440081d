// A durable client across a kill -9 and a SIGTERM restart of the real daemon (spawned CLI, same state
// directory): the replay window and the confirmed positions survive both, so it misses nothing; frames
// arrive twice only in the unconfirmed tail, and each connection sees each log strictly increasing.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FakeCtLog } from '../../fake-ct-log/fake-ct-log.js';
import { range } from '../support/entry-collector.js';
import { startDaemon as startSpawnedDaemon, type Daemon } from '../support/spawned-daemon.js';
import { DurableFeed, increasingPerConnection } from '../support/durable-feed.js';

/** The daemon with durable pings every 0.1 s, so positions are confirmed quickly. */
function startDaemon(logList: string, stateDir: string): Promise<Daemon> {
  return startSpawnedDaemon(logList, stateDir, ['--durable-ping-interval', '0.1']);
}

describe('certstream-server: a durable client across kill -9 and SIGTERM restarts', { timeout: 180_000 }, () => {
  let fake: FakeCtLog;
  let dir: string;
  before(async () => {
    fake = await FakeCtLog.start({ rfc6962Logs: 1, staticLogs: 1, initialSize: 256 });
    dir = await mkdtemp(join(tmpdir(), 'certstream-durable-'));
  });
  after(async () => {
    await fake.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('misses nothing', async () => {
    const rfc = fake.logs[0].url;
    fake.append(6000, rfc);
    let port = 0;
    let d = await startDaemon(fake.logListUrl, dir);
    port = d.port;
    // The client follows whichever daemon is up (same port is not guaranteed: it asks for the current one).
    const feed = new DurableFeed(() => `ws://127.0.0.1:${port}/full-stream?id=survivor`);
    const total = () => fake.logs.reduce((n, l) => n + feed.received(l.url).size, 0);
    const hasAll = () => fake.logs.every((l) => feed.received(l.url).size === fake.size(l.url));
    try {
      // kill -9 in the middle of the catch-up.
      await feed.until('part of the catch-up', 60_000, () => total() >= 1500);
      d.child.kill('SIGKILL');
      await d.exited;
      fake.append(300);
      d = await startDaemon(fake.logListUrl, dir);
      port = d.port;
      await feed.until('everything after the kill -9', 60_000, hasAll);
      // SIGTERM, entries appended while the daemon is down, restart.
      fake.append(200);
      await feed.until('the new entries', 30_000, hasAll);
      d.child.kill('SIGTERM');
      assert.equal(await d.exited, 0);
      fake.append(250);
      d = await startDaemon(fake.logListUrl, dir);
      port = d.port;
      await feed.until('everything after the SIGTERM restart', 60_000, hasAll);
    } finally {
      feed.close();
      d.child.kill('SIGTERM');
      await d.exited;
    }
    for (const l of fake.logs) {
      assert.deepEqual([...feed.received(l.url)].sort((a, b) => a - b), range(0, fake.size(l.url)), l.url);
    }
    assert.ok(increasingPerConnection(feed), 'strictly increasing per log within every connection');
    const dups = fake.logs.reduce((n, l) => n + feed.duplicates(l.url), 0);
    console.log(`durable across kill -9 and SIGTERM: ${feed.connections.length} connections, ${dups} frames repeated`);
  });
});
