// --max-durable-subscriptions and --durable-expire against the real daemon (spawned CLI): with a cap of
// 3, the 4th new NAME gets HTTP 503 with one line before the upgrade and is counted
// (certstream_durable_subscriptions_refused_total, present at 0 from start), while known NAMEs keep
// connecting; with a 2-second lifetime, a NAME that went away is forgotten (metric and saved files)
// while one that stays connected and confirms lives on.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { FakeCtLog } from '../../fake-ct-log/fake-ct-log.js';
import { readSavedPositions } from '../../src/stream/durable-positions.js';
import { startDaemon, type Daemon } from '../support/spawned-daemon.js';
import { waitUntil } from '../support/wait-until.js';
import { openOrRefused } from '../support/ws-upgrade.js';

async function metric(port: number, name: string): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m === null ? undefined : Number(m[1]);
}

describe('certstream-server: the cap and the lifetime of durable positions', { timeout: 120_000 }, () => {
  let fake: FakeCtLog;
  let dir: string;
  let d: Daemon | undefined;
  const sockets: WebSocket[] = [];
  before(async () => {
    fake = await FakeCtLog.start({ rfc6962Logs: 1, staticLogs: 0, initialSize: 4 });
    dir = await mkdtemp(join(tmpdir(), 'certstream-cap-'));
  });
  after(async () => {
    for (const ws of sockets) ws.terminate();
    d?.child.kill('SIGKILL');
    await d?.exited;
    await fake.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a new NAME beyond --max-durable-subscriptions with 503, counted; known NAMEs connect', async () => {
    d = await startDaemon(fake.logListUrl, join(dir, 'cap'), ['--max-durable-subscriptions', '3']);
    const url = (id: string) => `ws://127.0.0.1:${d!.port}/full-stream?id=${id}`;
    assert.equal(await metric(d.port, 'certstream_durable_subscriptions_refused_total'), 0, 'present at 0 from start');
    for (const id of ['a', 'b', 'c']) {
      const r = await openOrRefused(url(id));
      assert.ok('ws' in r, `${id} is accepted`);
      sockets.push(r.ws);
    }
    const refused = await openOrRefused(url('d'));
    assert.ok('status' in refused && refused.status === 503, 'the 4th NAME is refused with 503');
    assert.match(refused.body, /^too many durable subscriptions[^\n]*\n$/, 'one short line');
    assert.equal(await metric(d.port, 'certstream_durable_subscriptions_refused_total'), 1, 'counted');
    assert.equal(await metric(d.port, 'certstream_durable_subscriptions'), 3);
    // A known NAME reconnects (taking its own place over), and plain clients are not concerned.
    const again = await openOrRefused(url('b'));
    assert.ok('ws' in again, 'a known NAME is accepted at the cap');
    sockets.push(again.ws);
    const plain = await openOrRefused(`ws://127.0.0.1:${d.port}/full-stream`);
    assert.ok('ws' in plain, 'a plain client is accepted');
    sockets.push(plain.ws);
    d.child.kill('SIGTERM');
    assert.equal(await d.exited, 0);
    d = undefined;
  });

  it('forgets a NAME unused for --durable-expire, keeps one that stays connected and confirms', async () => {
    const state = join(dir, 'expire');
    d = await startDaemon(fake.logListUrl, state, ['--durable-expire', '2', '--durable-ping-interval', '0.1']);
    const url = (id: string) => `ws://127.0.0.1:${d!.port}/?id=${id}`;
    const stays = await openOrRefused(url('stays'));
    const leaves = await openOrRefused(url('leaves'));
    assert.ok('ws' in stays && 'ws' in leaves, `both accepted: ${JSON.stringify([stays, leaves].map((r) => ('ws' in r ? 'open' : r)))}`);
    sockets.push(stays.ws);
    await waitUntil('both positions saved', 20_000, async () => (await readSavedPositions(state)).size === 2);
    leaves.ws.close();
    // The sweep runs every second; liveness bound, not a timing claim.
    await waitUntil('the unused NAME forgotten', 30_000, async () => (await metric(d!.port, 'certstream_durable_subscriptions')) === 1);
    await waitUntil('its forgetting saved', 20_000, async () => !(await readSavedPositions(state)).has('leaves'));
    assert.ok((await readSavedPositions(state)).has('stays'), 'the connected, confirming NAME lives on');
    assert.equal(stays.ws.readyState, WebSocket.OPEN);
  });
});
