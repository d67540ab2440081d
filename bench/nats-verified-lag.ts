/**
 * How much later a verified=1 client on a NATS edge receives an entry than a plain client on the same
 * edge (README "Verified logs"): the edge learns each log's verified size from the ingest's cursor
 * bucket, saved every min(1 s, --durable-ping-interval), so the wait is bounded by that save period.
 * A real nats-server, an ingest and an edge in this process, the fake CT log appending a few entries
 * every `--every` ms for `--seconds`.
 *
 *   npx tsx bench/nats-verified-lag.ts [--seconds 20] [--every 250] [--ping 5]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { FakeCtLog } from '../fake-ct-log/fake-ct-log.js';
import { validateConfig } from '../src/config/server-config.js';
import { silentLogger } from '../src/log/logger.js';
import { createServerMetrics } from '../src/metrics/server-metrics.js';
import { startServer, type ServerHandle } from '../src/server.js';
import { NatsServer } from '../test/support/nats-server.js';
import { recordFrames, upgradeAnswer } from '../test/support/stream-probe.js';
import { waitUntil } from '../test/support/wait-until.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '20' }, every: { type: 'string', default: '250' }, ping: { type: 'string', default: '5' } } });
const seconds = Number(values.seconds);
const every = Number(values.every);

const nats = await NatsServer.start();
const fake = await FakeCtLog.start({ rfc6962Logs: 2, staticLogs: 1, initialSize: 100 });
const dir = await mkdtemp(join(tmpdir(), 'nats-verified-lag-'));
const servers: ServerHandle[] = [];
const start = async (role: 'ingest' | 'edge', backfill: string) => {
  const r = validateConfig({ host: '127.0.0.1', port: '0', 'log-list': fake.logListUrl, 'state-dir': join(dir, role), 'poll-interval': '0.05', nats: nats.url, role, backfill, 'durable-ping-interval': values.ping });
  if (!r.ok) throw new Error(r.problems.join('\n'));
  const s = await startServer(r.config, { logger: silentLogger, metrics: createServerMetrics({ processMetrics: false }), env: {} });
  servers.push(s);
  return s;
};
const ingest = await start('ingest', '1000000');
await waitUntil('every log verified', 60_000, () => ingest.health().logs.length === 3 && ingest.health().logs.every((l) => l.verified_size === 100));
const edge = await start('edge', '0');
const url = `ws://127.0.0.1:${edge.port}`;
await waitUntil('the edge takes verified=1', 60_000, async () => (await upgradeAnswer(`${url}/?verified=1`)).status === 101);

/** Arrival time of each entry (log index) per client. */
const arrivals = (r: { ws: import('ws').WebSocket }) => {
  const at = new Map<string, number>();
  r.ws.on('message', (d) => {
    const m = JSON.parse(d.toString()) as { message_type: string; data?: { cert_index: number; source: { url: string } } };
    if (m.data) at.set(`${m.data.source.url} ${m.data.cert_index}`, performance.now());
  });
  return at;
};
const plain = arrivals(await recordFrames(`${url}/`));
const verifiedClient = await recordFrames(`${url}/?verified=1`);
const verified = arrivals(verifiedClient);
const appender = setInterval(() => fake.append(3), every);
await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
clearInterval(appender);
await waitUntil('the verified client has every entry the plain one has', 30_000, () => [...plain.keys()].every((k) => verified.has(k)));
const lags = [...plain].map(([k, t]) => verified.get(k)! - t).sort((a, b) => a - b);
const q = (p: number) => lags[Math.min(lags.length - 1, Math.floor(p * lags.length))].toFixed(0);
console.log(`entries ${lags.length}; verified=1 later than plain on the edge, ms: p50 ${q(0.5)}, p90 ${q(0.9)}, p99 ${q(0.99)}, max ${lags[lags.length - 1].toFixed(0)} (cursor save period ${Math.min(1000, Number(values.ping) * 1000)} ms)`);
verifiedClient.ws.terminate();
for (const s of servers.reverse()) await s.close();
await fake.close();
await nats.dispose();
await rm(dir, { recursive: true, force: true });
