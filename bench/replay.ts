/**
 * Replay benchmark (issue 9 §6): a durable client resumes from 10 minutes back at 2,000 entries/s —
 * 1.2 million entries — while the server streams live at the same rate to plain clients.
 *
 *   npm run bench:replay -- [--entries 1200000] [--rate 2000] [--stream /] [--live-clients 10] [--built] [--nats]
 *
 * The window is prepared directly in a fresh state directory (real CT entries rendered by the Renderer,
 * `seen` spread over the 10 minutes, a log URL the fake log does not use), with the durable position of
 * `resume` at its start. Then the real server (its own process) starts on that directory, the fake CT log
 * grows at `--rate`, live clients connect, and the durable client connects with `?id=resume`.
 * Reported: replay frames/s (first frame to the last replayed one), live clients' latency from
 * `data.seen` to arrival during the replay (p50/p99) against the same before it, server CPU (per
 * replayed frame, and the live stream's CPU rate measured before the replay) and peak RSS.
 *
 * With `--nats` the window is a JetStream stream instead (issue 11): a real nats-server is started, the
 * entries are published to it by the ingest's own publisher, the server runs as `--role edge`, and the
 * client replays with `?since=0` (an edge follows no log, so there is no live traffic to time).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { WebSocket } from 'ws';
import { FakeCtLog } from '../fake-ct-log/fake-ct-log.js';
import type { CtEntry, LogDescriptor } from '../src/ct/types.js';
import { LocalReplayWindow } from '../src/replay/local-replay-window.js';
import { Renderer } from '../src/render/renderer.js';
import { POSITIONS_FILE } from '../src/stream/durable-positions.js';
import { connect } from '@nats-io/transport-node';
import { Registry } from 'prom-client';
import { silentLogger } from '../src/log/logger.js';
import { JetStreamPublisher } from '../src/nats/jetstream-publisher.js';
import { createNatsMetrics } from '../src/nats/nats-metrics.js';
import { ensureStream, entriesSubject } from '../src/nats/stream-setup.js';
import { NatsServer } from '../test/support/nats-server.js';
import { RFC6962_LOG, rfc6962Entries, staticEntries } from '../test/x509/corpus.js';
import { cpuSeconds, peakRssMb } from './support/proc-stats.js';
import { listeningPort } from './support/server-port.js';

const ROOT = join(import.meta.dirname, '..');
const { values: opts } = parseArgs({
  options: {
    entries: { type: 'string', default: '1200000' },
    rate: { type: 'string', default: '2000' },
    stream: { type: 'string', default: '/' },
    'live-clients': { type: 'string', default: '10' },
    built: { type: 'boolean', default: false },
    nats: { type: 'boolean', default: false },
  },
});
const ENTRIES = Number(opts.entries);
const RATE = Number(opts.rate);
const T0 = performance.now();
const log = (text: string) => process.stderr.write(`bench [${((performance.now() - T0) / 1000).toFixed(1)} s]: ${text}\n`);

function statOf(pid: number): { cpu: number; rssMb: number } {
  const rssMb = peakRssMb(pid);
  return { cpu: cpuSeconds(pid), rssMb: Number.isNaN(rssMb) ? 0 : rssMb };
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]);
}

/** Fills a window with ENTRIES real rendered entries, `seen` spread over the last ENTRIES / RATE seconds. */
async function prepareWindow(stateDir: string): Promise<number> {
  const renderer = new Renderer();
  const benchLog: LogDescriptor = { ...RFC6962_LOG, url: 'https://replay-bench.example/', name: 'replay bench' };
  const corpus: CtEntry[] = [...rfc6962Entries(), ...staticEntries()];
  const window = LocalReplayWindow.open({ stateDir, windowSeconds: 3600, maxBytes: 64 * 2 ** 30 });
  const start = Date.now() / 1000 - ENTRIES / RATE;
  const batch = 500;
  for (let i = 0; i < ENTRIES; i += batch) {
    const seen = start + i / RATE;
    const entries = [];
    for (let k = i; k < Math.min(ENTRIES, i + batch); k++) {
      const f = renderer.render(benchLog, { ...corpus[k % corpus.length], index: k }, seen);
      entries.push({ log: benchLog.url, index: k, seen, lite: f.lite, full: f.full, domains: f.domains, parts: f.parts });
    }
    window.append(entries);
    if (i % 200_000 === 0) log(`window: ${i} entries written`);
  }
  const bytes = window.bytes;
  await window.close();
  return bytes;
}

/** The stream's byte limit with --nats: within what a test nats-server's JetStream may store by default. */
const NATS_WINDOW_BYTES = 8 * 2 ** 30;

/** Publishes ENTRIES real rendered entries to a fresh JetStream stream, as an ingest node would. */
async function prepareStream(url: string): Promise<number> {
  const nc = await connect({ servers: url, noAsyncTraces: true });
  await ensureStream(nc, { name: 'CERTSTREAM', maxAgeMs: 3_600_000, maxBytes: NATS_WINDOW_BYTES });
  const publisher = new JetStreamPublisher({ connection: async () => nc, subject: entriesSubject('CERTSTREAM'), metrics: createNatsMetrics(new Registry()), logger: silentLogger, maxPending: 1 << 30 });
  const renderer = new Renderer();
  const benchLog: LogDescriptor = { ...RFC6962_LOG, url: 'https://replay-bench.example/', name: 'replay bench' };
  const corpus: CtEntry[] = [...rfc6962Entries(), ...staticEntries()];
  const start = Date.now() / 1000 - ENTRIES / RATE;
  for (let i = 0; i < ENTRIES; i += 500) {
    const frames = [];
    for (let k = i; k < Math.min(ENTRIES, i + 500); k++) {
      const f = renderer.render(benchLog, { ...corpus[k % corpus.length], index: k }, start + i / RATE);
      frames.push({ log: benchLog.url, index: k, seen: start + i / RATE, lite: f.lite, full: f.full, domains: f.domains });
    }
    publisher.publish(frames);
    await publisher.settled(60_000);
    if (i % 20_000 === 0) log(`stream: ${i} entries published`);
  }
  await publisher.close();
  const { jetstreamManager } = await import('@nats-io/jetstream');
  const bytes = (await (await jetstreamManager(nc)).streams.info('CERTSTREAM')).state.bytes;
  await nc.close();
  return bytes;
}

/** Reads the whole window from disk and frames it for `stream`, in this process: the window's own rate. */
async function readRate(stateDir: string, stream: 'lite' | 'full' | 'domains'): Promise<number> {
  const window = LocalReplayWindow.open({ stateDir, windowSeconds: 3600, maxBytes: 64 * 2 ** 30, cacheBytes: 0 });
  const start = performance.now();
  let seq = window.firstSeq;
  let frames = 0;
  while (seq < window.nextSeq) {
    const r = await window.read(stream, seq, 1024 * 1024);
    frames += r.batch.ends.length;
    seq = r.first + r.batch.ends.length;
  }
  const rate = Math.round(frames / ((performance.now() - start) / 1000));
  await window.close();
  return rate;
}

async function main(): Promise<void> {
  const state = await mkdtemp(join(tmpdir(), 'bench-replay-'));
  const fake = await FakeCtLog.start({ rfc6962Logs: 4, staticLogs: 0, initialSize: 1000 });
  let server: ReturnType<typeof spawn> | undefined;
  const nats = opts.nats ? await NatsServer.start() : undefined;
  try {
    const bytes = nats ? await prepareStream(nats.url) : await prepareWindow(state);
    log(`${nats ? 'stream' : 'window'} ready: ${ENTRIES} entries, ${(bytes / 2 ** 20).toFixed(0)} MiB`);
    const stream = opts.stream!.replace(/\/$/, '') || '';
    const streamName = stream === '/full-stream' ? 'full' : stream === '/domains-only' ? 'domains' : 'lite';
    const local = nats ? NaN : await readRate(state, streamName);
    if (!nats) log(`window read in process: ${local} frames/s`);
    await writeFile(join(state, POSITIONS_FILE), JSON.stringify({ version: 1, positions: { resume: { [streamName]: 0 } } }));
    const entry = opts.built ? [join(ROOT, 'dist/cli/certstream-server.js')] : ['--import', 'tsx', join(ROOT, 'src/cli/certstream-server.ts')];
    const startedAt = performance.now();
    server = spawn(
      process.execPath,
      // BENCH_SERVER_NODE_ARGS: extra node options for the server (e.g. --cpu-prof), as in bench:fanout.
      [...(process.env.BENCH_SERVER_NODE_ARGS?.split(' ').filter(Boolean) ?? []), ...entry, '--host', '127.0.0.1', '--port', '0', '--log-list', fake.logListUrl, '--state-dir', state, '--poll-interval', '0.05',
        '--replay-window', '3600', '--replay-window-bytes', String(nats ? NATS_WINDOW_BYTES : 64 * 2 ** 30), ...(nats ? ['--nats', nats.url, '--role', 'edge'] : [])],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const child = server;
    const port = await listeningPort(child);
    log(`server listening after ${((performance.now() - startedAt) / 1000).toFixed(1)} s (window indexed on open)`);
    fake.grow(RATE);
    const base = `ws://127.0.0.1:${port}${stream}`;
    const latencies: { at: number; ms: number }[] = [];
    const live: WebSocket[] = [];
    for (let i = 0; i < Number(opts['live-clients']); i++) {
      const ws = new WebSocket(`${base}/`);
      if (i === 0) {
        ws.on('message', (d: Buffer) => {
          const m = /"seen":([0-9.]+)/.exec(d.toString('latin1', 0, Math.min(d.length, 100_000)));
          if (m) latencies.push({ at: performance.now(), ms: Date.now() - Number(m[1]) * 1000 });
        });
      }
      live.push(ws);
    }
    // The live stream's own CPU rate (ingest, rendering, appending, 10 clients), measured before the
    // replay: the server's CPU during the replay includes it, the more so the longer the replay takes (on
    // a loaded machine). Only an indication: on a loaded machine the live stream's rate varies.
    await sleep(2000);
    const liveFrom = { cpu: statOf(child.pid!).cpu, at: performance.now() };
    await sleep(3000);
    const cpuBefore = statOf(child.pid!).cpu;
    const cpuFrom = performance.now();
    const liveCpuPerSecond = (cpuBefore - liveFrom.cpu) / ((performance.now() - liveFrom.at) / 1000);
    let replayed = 0;
    let first = 0;
    let last = 0;
    // The counting client shares the 2 cores with the server: it only counts (no UTF-8 check, no parse).
    const clientCpuBefore = process.cpuUsage();
    const resume = new WebSocket(nats ? `${base}/?since=0` : `${base}/?id=resume`, { skipUTF8Validation: true });
    resume.on('message', () => {
      if (replayed === 0) first = performance.now();
      replayed++;
      if (replayed === ENTRIES) last = performance.now();
    });
    const replayStart = performance.now();
    const deadline = replayStart + 600_000;
    while (last === 0 && performance.now() < deadline) await sleep(200);
    const cpu = statOf(child.pid!).cpu - cpuBefore;
    const measuredSeconds = (performance.now() - cpuFrom) / 1000;
    const clientCpu = process.cpuUsage(clientCpuBefore);
    const { rssMb } = statOf(child.pid!);
    const before = latencies.filter((l) => l.at < replayStart).map((l) => l.ms);
    const during = latencies.filter((l) => l.at >= replayStart && l.at <= (last || performance.now())).map((l) => l.ms);
    const seconds = ((last || performance.now()) - first) / 1000;
    const c = cpus();
    console.log(`\nReplay benchmark, ${new Date().toISOString()}`);
    console.log(`machine: ${c.length} × ${c[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Node ${process.version}, load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
    if (nats) console.log(`window: a JetStream stream of ${ENTRIES} entries (${(bytes / 2 ** 20).toFixed(0)} MiB), served by a --role edge node (no live traffic: an edge follows no log)`);
    else console.log(`window: ${ENTRIES} entries (${(bytes / 2 ** 20).toFixed(0)} MiB on disk); live: ${RATE} entries/s to ${live.length} plain clients on ${stream || '/'}`);
    if (!nats) console.log(`window read and framed in process (no socket): ${local} frames/s`);
    console.log(`replay: ${replayed} of ${ENTRIES} frames in ${seconds.toFixed(1)} s = ${Math.round(replayed / seconds)} frames/s${nats ? '' : ' (goal >= 50,000)'}`);
    console.log(`live latency (seen -> arrival) before the replay: p50 ${percentile(before, 50)} ms, p99 ${percentile(before, 99)} ms; during: p50 ${percentile(during, 50)} ms, p99 ${percentile(during, 99)} ms`);
    console.log(`server: ${cpu.toFixed(1)} CPU seconds during the replay (${(cpu / replayed * 1e6).toFixed(1)} µs per replayed frame), peak RSS ${rssMb.toFixed(0)} MB; bench process (clients, fake log): ${((clientCpu.user + clientCpu.system) / 1e6).toFixed(1)} CPU seconds`);
    console.log(`server CPU of the live stream alone (before the replay): ${liveCpuPerSecond.toFixed(2)} CPU seconds per second, about ${(liveCpuPerSecond * measuredSeconds).toFixed(1)} of the ${cpu.toFixed(1)} s during the replay if it stayed so`);
    resume.terminate();
    for (const ws of live) ws.terminate();
  } finally {
    if (server && server.exitCode === null) {
      const exited = new Promise((resolve) => server!.once('exit', resolve));
      server.kill('SIGTERM');
      await exited;
    }
    await fake.close();
    await nats?.dispose();
    await rm(state, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
