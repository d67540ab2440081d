// verified=1 on a NATS edge (issue 21 §4), against a real nats-server, an ingest node and an edge that
// follows no log: the edge learns each log's verified size from the ingest's cursor bucket. A verified=1
// client replaying the stream from its start (reads from JetStream, not the edge's memory) receives every
// verified entry, byte-identical to a plain client's replay; live, a log that lies (an altered entry near
// the end of a catch-up: the ingest streams the catch-up's first windows before it finds the root
// mismatch) never reaches the verified=1 clients beyond its last verified size, while the honest logs
// (RFC 6962 and static-ct-api) flow to them byte-identical to the plain client's frames.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LogHealth } from '../../src/http/healthz.js';
import type { ServerHandle } from '../../src/server.js';
import { NatsServer, natsSkip } from '../support/nats-server.js';
import { recordFrames, upgradeAnswer, type Recorded } from '../support/stream-probe.js';
import { waitUntil } from '../support/wait-until.js';
import { startFake, startReal, tempDir, testConfig } from '../server/server-harness.js';

const LONG = 60_000;

function logsReach(server: ServerHandle, urls: readonly string[], what: string, ok: (l: LogHealth) => boolean): Promise<true> {
  return waitUntil(what, LONG, () => {
    const logs = new Map(server.health().logs.map((l) => [l.url, l]));
    return urls.every((u) => logs.has(u) && ok(logs.get(u)!));
  });
}

/** The cert_index of each frame (a short failure message: a diff of whole frames takes minutes). */
function indexes(frames: readonly { index: number }[]): number[] {
  return frames.map((f) => f.index);
}

/** Whether two clients received the same frames, byte for byte, in the same order. */
function sameFrames(a: readonly { frame: string }[], b: readonly { frame: string }[]): boolean {
  return a.length === b.length && a.every((f, i) => f.frame === b[i].frame);
}

/** The frames of `log` a client received, with their cert_index, in arrival order. */
function framesOf(r: Recorded, log: string): { index: number; frame: string }[] {
  return r.raw
    .filter((frame) => !frame.startsWith('{"message_type":"heartbeat"'))
    .map((frame) => ({ frame, m: JSON.parse(frame) as { data: { cert_index: number; source: { url: string } } } }))
    .filter(({ m }) => m.data.source.url === log)
    .map(({ frame, m }) => ({ index: m.data.cert_index, frame }));
}

test('NATS edge: verified=1 gets only what the ingest verified, byte-identical; a lying log stops at its verified size', { skip: natsSkip(), timeout: 180_000 }, async (t) => {
  const nats = await NatsServer.start();
  const servers: ServerHandle[] = [];
  const clients: Recorded[] = [];
  // Clients, then servers (they save to NATS when they close), then NATS.
  t.after(async () => {
    for (const c of clients) c.ws.terminate();
    for (const s of servers) await s.close().catch(() => undefined);
    await nats.dispose();
  });
  const fake = await startFake(t, { rfc6962Logs: 2, staticLogs: 1, initialSize: 300 });
  const [liar, honest, honestStatic] = fake.logs.map((l) => l.url);
  const all = [liar, honest, honestStatic];
  const common = { nats: nats.url, durablePingIntervalMs: 50 };
  const ingest = await startReal(testConfig(fake, await tempDir(t), { ...common, role: 'ingest', backfill: 1_000_000 }));
  servers.push(ingest);
  await logsReach(ingest, all, 'every log streamed and verified at 300', (l) => l.verification === 'ok' && l.verified_size === 300 && l.next_index === 300);
  const edge = await startReal(testConfig(fake, await tempDir(t), { ...common, role: 'edge' }));
  servers.push(edge);
  const url = `ws://127.0.0.1:${edge.port}`;
  const record = async (path: string) => {
    const r = await recordFrames(`${url}${path}`);
    clients.push(r);
    return r;
  };
  // The edge takes windowed clients once it has opened the stream (503 meanwhile).
  await waitUntil('the edge takes verified=1 clients', LONG, async () => (await upgradeAnswer(`${url}/?verified=1`)).status === 101);

  // From the stream's start: entries the edge reads from JetStream, every one verified.
  const replayPlain = await record('/?since=0');
  const replayVerified = await record('/?verified=1&since=0');
  await waitUntil('the verified replay has every entry', LONG, () => all.every((log) => framesOf(replayVerified, log).length === 300));
  await waitUntil('the plain replay has every entry', LONG, () => all.every((log) => framesOf(replayPlain, log).length === 300));
  for (const log of all) assert.ok(sameFrames(framesOf(replayVerified, log), framesOf(replayPlain, log)), `${log}: the verified replay is byte-identical`);

  // Live: 300 more entries of the liar, the altered one in the last get-entries window (32 entries).
  const plain = await record('/');
  const verified = await record('/?verified=1');
  fake.misbehave(liar, { kind: 'alter-entry', index: 590 });
  fake.append(300, liar);
  fake.append(40, honest);
  fake.append(40, honestStatic);
  await logsReach(ingest, [liar], 'the liar failed', (l) => l.verification === 'failed' && l.verified_size === 300);
  await waitUntil('the honest logs reach the verified client', LONG, () => framesOf(verified, honest).length === 40 && framesOf(verified, honestStatic).length === 40);
  // More of an honest log after the failure: still flowing.
  fake.append(20, honest);
  await waitUntil('the honest log after the failure', LONG, () => framesOf(verified, honest).length === 60 && framesOf(replayVerified, honest).length === 360);
  await waitUntil('the plain client has the honest entries', LONG, () => framesOf(plain, honest).length === 60 && framesOf(plain, honestStatic).length === 40);

  const streamedToPlain = framesOf(plain, liar).map((f) => f.index);
  assert.ok(streamedToPlain.length >= 32 && streamedToPlain.every((i) => i >= 300 && i < 590), `a plain client got the liar's first windows as fetched (${streamedToPlain.length})`);
  assert.deepEqual(indexes(framesOf(verified, liar)), [], 'nothing of the liar beyond its last verified size (300)');
  assert.deepEqual(indexes(framesOf(replayVerified, liar)).filter((i) => i >= 300), [], 'nor to the client that replayed');
  for (const log of [honest, honestStatic]) {
    assert.ok(sameFrames(framesOf(verified, log), framesOf(plain, log)), `${log}: byte-identical, in order`);
    assert.ok(sameFrames(framesOf(replayVerified, log).slice(300), framesOf(plain, log)), `${log}: the replaying client went on live alike`);
  }
});
