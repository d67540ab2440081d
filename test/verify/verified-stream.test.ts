/**
 * `verified=1` end to end (issue 21 §4 and §5): the real server (a child process) follows the fake CT
 * log, one of whose logs serves an altered entry near the end of a catch-up. The follower streams the
 * catch-up's first windows as fetched (a plain client receives them) and finds the root mismatch only
 * when it reaches the signed head; a verified=1 client never receives an entry of that log beyond its
 * last verified size, while the honest logs (RFC 6962 and static-ct-api) keep flowing to it, their
 * frames byte-identical to the plain client's.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FakeCtLog } from '../../fake-ct-log/fake-ct-log.js';
import type { LogHealth } from '../../src/http/healthz.js';
import { startDaemon, type Daemon } from '../support/spawned-daemon.js';
import { recordFrames, type Recorded } from '../support/stream-probe.js';
import { waitUntil } from '../support/wait-until.js';

const LONG = 60_000;

async function logs(d: Daemon): Promise<Map<string, LogHealth>> {
  const body = (await (await fetch(`http://127.0.0.1:${d.port}/healthz`)).json()) as { logs: LogHealth[] };
  return new Map(body.logs.map((l) => [l.url, l]));
}

/** The frames of `log` a client received, with their cert_index, in arrival order. */
function framesOf(r: Recorded, log: string): { index: number; frame: string }[] {
  return r.raw
    .map((frame) => ({ frame, m: JSON.parse(frame) as { data: { cert_index: number; source: { url: string } } } }))
    .filter(({ m }) => m.data.source.url === log)
    .map(({ frame, m }) => ({ index: m.data.cert_index, frame }));
}

describe('verified=1 against the real server and a lying log', { timeout: 180_000 }, () => {
  let fake: FakeCtLog;
  let dir: string;
  let daemon: Daemon | undefined;
  before(async () => {
    fake = await FakeCtLog.start({ rfc6962Logs: 2, staticLogs: 1, initialSize: 300 });
    dir = await mkdtemp(join(tmpdir(), 'certstream-verified-stream-'));
  });
  after(async () => {
    daemon?.child.kill('SIGKILL');
    await fake.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('never receives the lying log beyond its last verified size, while the honest logs flow byte-identical', async () => {
    const logList = join(dir, 'log_list.json');
    await fake.writeLogList(logList);
    const [liar, honest, honestStatic] = fake.logs.map((l) => l.url);
    daemon = await startDaemon(logList, join(dir, 'state'));
    const d = daemon;
    await waitUntil('every log verified at 300', LONG, async () => [...(await logs(d)).values()].every((l) => l.verification === 'ok' && l.verified_size === 300));
    const plain = await recordFrames(`ws://127.0.0.1:${d.port}/`);
    const verified = await recordFrames(`ws://127.0.0.1:${d.port}/?verified=1`);
    // 300 more entries, the altered one in the last get-entries window (32 entries each): the windows
    // before it are streamed as fetched, before the head's root is checked.
    fake.misbehave(liar, { kind: 'alter-entry', index: 590 });
    fake.append(300, liar);
    fake.append(40, honest);
    fake.append(40, honestStatic);
    await waitUntil('the liar failed', LONG, async () => (await logs(d)).get(liar)?.verification === 'failed');
    const h = (await logs(d)).get(liar)!;
    assert.equal(h.verified_size, 300);
    await waitUntil('the honest logs reach the verified client', LONG, () => framesOf(verified, honest).length === 40 && framesOf(verified, honestStatic).length === 40);
    // More of the honest logs after the failure: still flowing.
    fake.append(20, honest);
    await waitUntil('the honest log after the failure', LONG, () => framesOf(verified, honest).length === 60);
    await waitUntil('the plain client has the honest entries', LONG, () => framesOf(plain, honest).length === 60 && framesOf(plain, honestStatic).length === 40);

    const streamedToPlain = framesOf(plain, liar).map((f) => f.index);
    assert.ok(streamedToPlain.length >= 32 && streamedToPlain.every((i) => i >= 300 && i < 590), `a plain client got the liar's first windows as fetched (${streamedToPlain.length})`);
    assert.deepEqual(framesOf(verified, liar), [], 'nothing of the liar beyond its last verified size (300)');
    for (const log of [honest, honestStatic]) {
      assert.deepEqual(framesOf(verified, log), framesOf(plain, log), `${log}: byte-identical, in order`);
    }
  });
});
