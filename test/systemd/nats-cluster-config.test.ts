// systemd/nats/nats-server.conf.example, the README's three-server JetStream cluster, for real: three
// nats-servers started from that file (only names, addresses, ports and the store directory rewritten
// for one host) form a JetStream cluster. On it, the daemon's own setup code creates the stream and
// the buckets; the README's operator step raises them to three replicas, which the daemon keeps when
// it updates the limits; then the stream de-duplicates by msg id and keeps accepting and serving
// entries, and the cursors stay readable, after the stream's leader is killed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { natsServerBinary, natsSkip } from '../support/nats-server.js';
import { bucketKey, ensureStream, entriesSubject, openBucket } from '../../src/nats/stream-setup.js';
import { freePort } from '../support/free-port.js';

const EXAMPLE = 'systemd/nats/nats-server.conf.example';


/** Replaces `from` (which must occur exactly once) by `to`: a reshaped example fails loudly here. */
function replaceOnce(text: string, from: string, to: string): string {
  const parts = text.split(from);
  assert.equal(parts.length, 2, `${EXAMPLE}: expected "${from}" exactly once`);
  return parts.join(to);
}

interface Node {
  name: string;
  client: number;
  http: number;
  route: number;
  child?: ChildProcess;
  output: string;
}

/** Polls `check` every 100 ms until it returns a value; fails after `ms`. */
async function until<T>(what: string, ms: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function jsz(node: Node): Promise<{ meta_cluster?: { leader?: string; cluster_size?: number } }> {
  const r = await fetch(`http://127.0.0.1:${node.http}/jsz`, { signal: AbortSignal.timeout(2000) });
  return (await r.json()) as { meta_cluster?: { leader?: string; cluster_size?: number } };
}

test('three nats-servers from the example config form a JetStream cluster that survives losing one', { skip: natsSkip(), timeout: 120_000 }, async () => {
  const binary = natsServerBinary()!;
  const example = readFileSync(EXAMPLE, 'utf8');
  const dir = mkdtempSync(join(tmpdir(), 'nats-cluster-'));
  const nodes: Node[] = [];
  for (const name of ['nats-1', 'nats-2', 'nats-3']) nodes.push({ name, client: await freePort(), http: await freePort(), route: await freePort(), output: '' });
  let nc: Awaited<ReturnType<typeof connect>> | undefined;
  try {
    for (const node of nodes) {
      let conf = replaceOnce(example, 'server_name: nats-1', `server_name: ${node.name}`);
      conf = replaceOnce(conf, 'listen: 0.0.0.0:4222', `listen: 127.0.0.1:${node.client}`);
      conf = replaceOnce(conf, 'http: 127.0.0.1:8222', `http: 127.0.0.1:${node.http}`);
      conf = replaceOnce(conf, 'store_dir: /var/lib/nats', `store_dir: ${join(dir, node.name)}`);
      conf = replaceOnce(conf, 'listen: 0.0.0.0:6222', `listen: 127.0.0.1:${node.route}`);
      for (const peer of nodes) conf = replaceOnce(conf, `nats-route://${peer.name}.example.internal:6222`, `nats-route://127.0.0.1:${peer.route}`);
      const file = join(dir, `${node.name}.conf`);
      writeFileSync(file, conf);
      const child = spawn(binary, ['-c', file], { stdio: ['ignore', 'pipe', 'pipe'] });
      node.child = child;
      child.stdout!.setEncoding('utf8').on('data', (d: string) => (node.output += d));
      child.stderr!.setEncoding('utf8').on('data', (d: string) => (node.output += d));
    }
    // A JetStream cluster is usable once its meta group of all three servers has a leader.
    const meta = await until('a JetStream meta leader among 3 servers', 60_000, async () => {
      const all = await Promise.all(nodes.map(jsz));
      return all.every((j) => j.meta_cluster?.leader && j.meta_cluster.cluster_size === 3) ? all[0]!.meta_cluster : undefined;
    }).catch((err: Error) => {
      throw new Error(`${err.message}\n${nodes.map((n) => `--- ${n.name}\n${n.output.slice(-1500)}`).join('\n')}`);
    });
    assert.equal(meta?.cluster_size, 3);

    nc = await connect({ servers: nodes.map((n) => `nats://127.0.0.1:${n.client}`), timeout: 5000, reconnectTimeWait: 100, maxReconnectAttempts: -1 });
    const jsm = await jetstreamManager(nc, { timeout: 10_000 });
    const limits = { name: 'CERTSTREAM', maxAgeMs: 900_000, maxBytes: 2 ** 31 };
    await ensureStream(nc, limits);
    const cursors = await openBucket(nc, limits.name, 'cursors');
    await openBucket(nc, limits.name, 'positions');
    // The README's operator step (`nats stream edit NAME --replicas 3` on the stream and the buckets'
    // streams): the same update, through the API.
    for (const name of ['CERTSTREAM', 'CERTSTREAM_certs', 'KV_CERTSTREAM_cursors', 'KV_CERTSTREAM_positions']) {
      const { config } = await jsm.streams.info(name);
      if (config.num_replicas < 3) await jsm.streams.update(name, { ...config, num_replicas: 3 });
    }
    for (const name of ['CERTSTREAM', 'CERTSTREAM_certs', 'KV_CERTSTREAM_cursors', 'KV_CERTSTREAM_positions']) {
      await until(`${name} on three current replicas`, 30_000, async () => {
        const c = (await jsm.streams.info(name)).cluster;
        return c?.leader && c.replicas?.length === 2 && c.replicas.every((r) => r.current) ? true : undefined;
      });
    }
    // A node started later with another window updates the limits and keeps the replicas.
    const updated = await ensureStream(nc, { ...limits, maxAgeMs: 1_800_000 });
    assert.equal(updated.config.num_replicas, 3, 'ensureStream keeps the operator-set replicas');
    assert.equal(updated.config.max_age, 1_800_000 * 1e6);
    await cursors.put(bucketKey('https://log.example/'), '2');

    const js = jetstream(nc, { timeout: 10_000 });
    const subject = entriesSubject(limits.name);
    const first = await js.publish(subject, 'entry 1', { msgID: 'https://log.example/#1' });
    const again = await js.publish(subject, 'entry 1', { msgID: 'https://log.example/#1' });
    assert.equal(first.duplicate, false);
    assert.equal(again.duplicate, true, 'the second ingest node publishing the same entry stores nothing');
    assert.equal(again.seq, first.seq);

    // Kill the stream's leader: the two others elect a new one and the stream goes on.
    const info = await jsm.streams.info('CERTSTREAM');
    assert.equal(info.cluster?.replicas?.length, 2, 'two replicas besides the leader');
    const leader = nodes.find((n) => n.name === info.cluster?.leader);
    assert.ok(leader?.child, `leader ${info.cluster?.leader}`);
    const gone = new Promise((resolve) => leader.child!.once('exit', resolve));
    leader.child.kill('SIGKILL');
    await gone;
    const second = await until('a publish after the leader died', 30_000, () => js.publish(subject, 'entry 2', { msgID: 'https://log.example/#2' }));
    assert.equal(second.duplicate, false);
    assert.equal(second.seq, first.seq + 1);
    const stored = await until('both entries readable from the surviving servers', 30_000, async () => {
      const s = await jsm.streams.get('CERTSTREAM');
      const m1 = await s.getMessage({ seq: first.seq });
      const m2 = await s.getMessage({ seq: second.seq });
      return m1 && m2 ? [m1.string(), m2.string()] : undefined;
    });
    assert.deepEqual(stored, ['entry 1', 'entry 2']);
    const cursor = await until('the cursor bucket readable after the loss', 30_000, async () => (await cursors.get(bucketKey('https://log.example/')))?.string());
    assert.equal(cursor, '2');
  } finally {
    await nc?.close().catch(() => undefined);
    await Promise.all(
      nodes.map(async (n) => {
        const child = n.child;
        if (!child || child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
      }),
    );
    rmSync(dir, { recursive: true, force: true });
  }
});
