/**
 * One fault scenario's world for NATS-mode tests with real processes: a real nats-server (temp store the
 * test may wipe), the fake CT logs, the certstream-server nodes and WebSocket clients the scenario
 * starts; everything is ended in `finally`, also after a failed assertion. Plus what such tests ask of a
 * node: its /healthz, and waits on it.
 */
import { rm } from 'node:fs/promises';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { FakeCtLog } from '../../../fake-ct-log/fake-ct-log.js';
import { NatsServer } from '../../support/nats-server.js';
import { waitUntil } from '../../support/wait-until.js';
import { NodeSet, type NatsNode } from './nats-node.js';
import { RecordingFeed } from './recording-feed.js';

export interface NatsWorld {
  nats: NatsServer;
  fake: FakeCtLog;
  nodes: NodeSet;
  feeds: RecordingFeed[];
  logs: string[];
  /** Connections the test opened to NATS itself (closed at the end). */
  clients: NatsConnection[];
}

/** The parts of /healthz these tests read. */
export interface Healthz {
  status: string;
  problems: string[];
  nats?: { role: string; connected: boolean; last_seq: number | null; delivered_seq: number | null; last_error: string | null };
}

export async function withNatsWorld(body: (w: NatsWorld) => Promise<void>, fakeOptions: { initialSize?: number } = {}): Promise<void> {
  const nats = await NatsServer.start();
  // A test cancelled by its timeout may leave the runner to force the exit before `finally` ran.
  const killNats = () => void nats.kill();
  process.once('exit', killNats);
  const fake = await FakeCtLog.start({ rfc6962Logs: 1, staticLogs: 1, initialSize: fakeOptions.initialSize ?? 200 }).catch(async (err: unknown) => {
    await nats.dispose();
    throw err;
  });
  const w: NatsWorld = { nats, fake, nodes: new NodeSet(), feeds: [], logs: fake.logs.map((l) => l.url), clients: [] };
  try {
    await body(w);
  } catch (err) {
    const natsSaid = nats.log.split('\n').filter((l) => /\[(WRN|ERR|FTL)\]/.test(l)).slice(-10).join('\n  ');
    if (err instanceof Error && natsSaid !== '') err.message += `\n[nats-server] warnings and errors:\n  ${natsSaid}`;
    throw err;
  } finally {
    fake.grow(0);
    for (const f of w.feeds) f.close();
    for (const c of w.clients) await c.close().catch(() => undefined);
    await w.nodes.stopAll();
    await fake.close();
    await nats.dispose();
    process.removeListener('exit', killNats);
  }
}

/** A recording client of the world (closed at its end). */
export function worldFeed(w: NatsWorld, url: () => string, reconnect = false): RecordingFeed {
  const f = new RecordingFeed(url, reconnect);
  w.feeds.push(f);
  return f;
}

/** A connection of the test's own to the world's NATS. */
export async function natsClient(w: NatsWorld): Promise<NatsConnection> {
  const nc = await connect({ servers: w.nats.url, timeout: 5000 });
  w.clients.push(nc);
  return nc;
}

/** kill -9 of nats-server, its store removed, started again on the same port: a NATS that lost everything. */
export async function wipeNats(w: NatsWorld): Promise<void> {
  await w.nats.kill();
  await rm(w.nats.storeDir, { recursive: true, force: true });
  await w.nats.start();
}

export async function healthz(node: NatsNode): Promise<Healthz | undefined> {
  try {
    return (await node.getJson<Healthz>('/healthz')).body;
  } catch {
    return undefined;
  }
}

/** Waits until an edge serves from the stream (before that, `?id=` and `?since=` are refused). */
export function edgeServing(node: NatsNode, ms = 30_000): Promise<Healthz> {
  return waitUntil(`${node.name} to serve from the stream (/healthz nats.last_seq set)`, ms, async () => {
    const h = await healthz(node);
    return h?.nats?.connected === true && typeof h.nats.last_seq === 'number' ? h : undefined;
  });
}

/** Per log: received vs. log size, for timeout messages. */
export function progress(w: NatsWorld, f: RecordingFeed): string {
  return w.logs.map((l) => `${l}: ${f.received(l).size}/${w.fake.size(l)}`).join(', ');
}

/** Frames received over all of a feed's connections (repeats included). */
export function frames(f: RecordingFeed): number {
  return f.connections.reduce((n, c) => n + [...c.indexes.values()].reduce((m, ix) => m + ix.length, 0), 0);
}
