/**
 * Fan-out benchmark (issue 4 §5): the fake CT log feeds the real certstream-server (its own process) at
 * a set entry rate; K WebSocket clients in another process receive. Reported: delivered frames/s, p50 /
 * p99 latency (from FakeCtLog.availableAt to arrival at a client), drops and gaps, server CPU seconds
 * and peak RSS. In the same run, the baseline — a minimal `ws` server broadcasting the same
 * pre-serialized frames to the same number of clients (bench/fanout-baseline.ts) — gives the limit of
 * this stack.
 *
 *   npm run bench:fanout -- [--scenarios 100x2000,1000x200] [--seconds 15] [--warmup 3] [--logs 8]
 *                           [--poll 0.02] [--stream /] [--sample 8] [--inspect 10] [--built] [--durable]
 *
 * Scenarios are CLIENTSxRATE (entries/s). Every client counts its frames; the first `--inspect` clients
 * also check per-log gaps and sample latencies (1 in `--sample`); drops are the server's own counter. The fake serves RFC 6962 logs only: a static-ct-api log's
 * latency is bounded by how fast its tiles fill, not by the server. `--poll` is the server's
 * --poll-interval (seconds): latency includes the wait for the next poll. `--built` runs
 * dist/cli/certstream-server.js (npm run build first) instead of the TypeScript source through tsx.
 * `--durable` adds, per scenario, a run where every client is a durable subscription (`?id=bench-N`):
 * the cost of the replay window and of position pings next to plain clients. `--tls` adds a run with
 * --tls-cert/--tls-key (a self-signed ECDSA certificate) and wss:// clients: CPU per delivered frame,
 * TLS against plain, in the same run.
 * `--filtered N` adds, per scenario, N clients with `?match=` rule sets (bench/fanout-filter.ts): each its
 * own set, then 10 shared sets; compared with the scenario's unfiltered row per entry examined.
 * `--verified` adds, per scenario, a run with the scenario's plain clients and as many `?verified=1`
 * clients side by side on one server (a client process each, measured over the same seconds): the
 * verified clients' latency next to the plain ones', and the server's CPU per entry against the plain run's.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { WebSocket } from 'ws';
import { FakeCtLog } from '../fake-ct-log/fake-ct-log.js';
import { FILTER_SCENARIOS, filterSummary, type FilterScenario } from './fanout-filter.js';
import { message, percentile, type ClientResult } from './support/client-pool.js';
import { sumMetric } from './support/daemon.js';
import { cpuSeconds, peakRssMb } from './support/proc-stats.js';
import { listeningPort } from './support/server-port.js';
import { selfSignedTlsArgs } from './support/tls-pair.js';

const ROOT = join(import.meta.dirname, '..');

const { values: opts } = parseArgs({
  options: {
    scenarios: { type: 'string', default: '100x2000,1000x200' },
    seconds: { type: 'string', default: '15' },
    warmup: { type: 'string', default: '3' },
    logs: { type: 'string', default: '8' },
    poll: { type: 'string', default: '0.02' },
    stream: { type: 'string', default: '/' },
    sample: { type: 'string', default: '8' },
    inspect: { type: 'string', default: '10' },
    built: { type: 'boolean', default: false },
    durable: { type: 'boolean', default: false },
    tls: { type: 'boolean', default: false },
    filtered: { type: 'string' },
    verified: { type: 'boolean', default: false },
  },
});
// --tls: the benchmark's own requests and capture client accept the self-signed certificate.
if (opts.tls) process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
const SECONDS = Number(opts.seconds);
const WARMUP = Number(opts.warmup);
const LOGS = Number(opts.logs);
const SAMPLE = Number(opts.sample);

interface Row {
  target: string;
  clients: number;
  rate: number;
  framesPerSecond: number;
  expectedPerSecond: number;
  p50: number;
  p99: number;
  /** From data.seen (rendered) to arrival: the hub's and the network's part of the latency. */
  fanoutP50?: number;
  fanoutP99?: number;
  drops: number | string;
  gaps: number | string;
  closed: number;
  cpuSeconds: number;
  cpuPercent: number;
  peakRssMb: number;
  clientCpuSeconds: number;
  /** Bytes the clients received. */
  bytes: number;
  /** Entries the server streamed (examined) in the measured window. */
  entries: number;
}

function forkTs(file: string): ChildProcess {
  return fork(join(ROOT, 'bench', file), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

async function startClients(url: string | string[], clients: number): Promise<ChildProcess> {
  const child = forkTs('fanout-clients.ts');
  const connected = message(child, 'connected');
  child.send({ cmd: 'connect', url, clients, sampleEvery: SAMPLE, inspect: Number(opts.inspect) });
  await connected;
  return child;
}

/** Measures every client process over the same seconds; `cpu` is the process `pid`'s. */
async function measure(groups: ChildProcess[], pid: number): Promise<{ results: ClientResult[]; cpu: number }> {
  const cpu0 = cpuSeconds(pid);
  const t0 = performance.now();
  for (const clients of groups) clients.send({ cmd: 'measure' });
  await sleep(SECONDS * 1000);
  const done = groups.map((clients) => message<ClientResult>(clients, 'result'));
  for (const clients of groups) clients.send({ cmd: 'stop' });
  const cpu1 = cpuSeconds(pid);
  const t1 = performance.now();
  const results = await Promise.all(done);
  log(`measured ${((t1 - t0) / 1000).toFixed(1)} s, results after ${((performance.now() - t1) / 1000).toFixed(1)} s more`);
  return { results, cpu: cpu1 - cpu0 };
}

const T0 = performance.now();
function log(text: string): void {
  process.stderr.write(`bench [${((performance.now() - T0) / 1000).toFixed(1)} s]: ${text}\n`);
}

/**
 * The real server, fed by the fake log; also captures lite frames for the baseline. `verified`: as many
 * `?verified=1` clients again, side by side (their row second).
 */
async function runServer(clientsCount: number, rate: number, framesFile: string, durable = false, tls = false, filter?: FilterScenario, verified = false): Promise<Row[]> {
  const fake = await FakeCtLog.start({ rfc6962Logs: LOGS, staticLogs: 0, initialSize: 1000 });
  const state = await mkdtemp(join(tmpdir(), 'bench-fanout-'));
  const entry = opts.built ? [join(ROOT, 'dist/cli/certstream-server.js')] : ['--import', 'tsx', join(ROOT, 'src/cli/certstream-server.ts')];
  const server = spawn(
    process.execPath,
    // BENCH_SERVER_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the server alone.
    [...(process.env.BENCH_SERVER_NODE_ARGS?.split(' ').filter(Boolean) ?? []), ...entry, '--host', '127.0.0.1', '--port', '0', '--log-list', fake.logListUrl, '--state-dir', state, '--poll-interval', opts.poll!, ...(tls ? selfSignedTlsArgs(state) : [])],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  try {
    const port = await listeningPort(server);
    const base = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
    const wsBase = base.replace(/^http/, 'ws');
    for (;;) {
      const h = (await (await fetch(`${base}/healthz`)).json()) as { status: string };
      if (h.status === 'ok') break;
      await sleep(100);
    }
    log('server ready');
    const at = `${wsBase}${opts.stream}`;
    const groups = [await startClients(filter ? filter.queries(clientsCount).map((q) => `${at}?${q}`) : `${at}${durable ? '?id=bench-{i}' : ''}`, clientsCount)];
    if (verified) groups.push(await startClients(`${at}?verified=1`, clientsCount));
    log('clients connected');
    // One extra client captures lite frames for the baseline during the warm-up only.
    const frames: string[] = [];
    const capture = new WebSocket(`${wsBase}/`);
    capture.on('message', (d) => {
      const s = d.toString();
      if (frames.length < 6000 && s.includes('"certificate_update"')) frames.push(s);
    });
    fake.grow(rate);
    await sleep(WARMUP * 1000);
    capture.close();
    await writeFile(framesFile, JSON.stringify(frames));
    const entriesBefore = sumMetric(await (await fetch(`${base}/metrics`)).text(), 'certstream_entries_total');
    const { results, cpu } = await measure(groups, server.pid!);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    const entries = sumMetric(metrics, 'certstream_entries_total') - entriesBefore;
    fake.grow(0);
    const drops = sumMetric(metrics, 'certstream_client_dropped_messages_total');
    const appended = fake.logs.reduce((sum, l) => sum + fake.size(l.url), 0) - 1000 * LOGS;
    const lagP99 = sumMetric(metrics, 'nodejs_eventloop_lag_p99_seconds') * 1000;
    const lagMax = sumMetric(metrics, 'nodejs_eventloop_lag_max_seconds') * 1000;
    log(`server event loop delay over the run: p99 ${lagP99.toFixed(1)} ms, max ${lagMax.toFixed(1)} ms`);
    log(`fake logs grew by ${appended}, server streamed ${sumMetric(metrics, 'certstream_entries_total')} entries, dropped ${drops} frames`);
    const closed = sumMetric(metrics, 'certstream_client_disconnects_total', /reason="(slow|ping_timeout)"/);
    const rss = peakRssMb(server.pid!);
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    const target = filter ? `certstream-server (${filter.label})` : durable ? 'certstream-server (durable)' : tls ? 'certstream-server (TLS)' : 'certstream-server';
    // With verified clients beside them, the server's CPU is for both groups (it is not split).
    return results.map((result, i) => ({
      ...latencyRow(fake, result),
      target: i === 0 ? (verified ? `${target}, plain beside verified` : target) : 'certstream-server (verified=1)',
      clients: clientsCount,
      rate,
      framesPerSecond: result.messages / result.seconds,
      expectedPerSecond: rate * clientsCount,
      drops,
      gaps: filter ? 'n/a' : result.gaps + result.duplicates,
      closed: closed + result.closedEarly,
      cpuSeconds: cpu,
      cpuPercent: (100 * cpu) / result.seconds,
      peakRssMb: rss,
      clientCpuSeconds: result.clientCpuSeconds,
      bytes: result.bytes,
      entries,
    }));
  } finally {
    if (server.exitCode === null) server.kill('SIGKILL');
    await fake.close();
    await rm(state, { recursive: true, force: true });
  }
}

/** Latency percentiles of one client process's samples: from the fake log's availableAt, and from data.seen. */
function latencyRow(fake: FakeCtLog, result: ClientResult): Pick<Row, 'p50' | 'p99' | 'fanoutP50' | 'fanoutP99'> {
  const latencies: number[] = [];
  const fanoutLatencies: number[] = [];
  for (let i = 0; i < result.samples.length; i += 5) {
    const [logId, index, , at, seen] = result.samples.slice(i, i + 5);
    if (index < 0 || index % SAMPLE !== 0) continue;
    const available = fake.availableAt(result.logs[logId], index);
    if (available !== undefined) latencies.push(at - available);
    if (seen >= 0) fanoutLatencies.push(at - seen);
  }
  latencies.sort((a, b) => a - b);
  fanoutLatencies.sort((a, b) => a - b);
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), fanoutP50: percentile(fanoutLatencies, 50), fanoutP99: percentile(fanoutLatencies, 99) };
}

async function runBaseline(clientsCount: number, rate: number, framesFile: string): Promise<Row> {
  const baseline = forkTs('fanout-baseline.ts');
  try {
    const listening = message<{ port: number }>(baseline, 'listening');
    baseline.send({ cmd: 'listen', framesFile });
    const { port } = await listening;
    const clients = await startClients(`ws://127.0.0.1:${port}/`, clientsCount);
    baseline.send({ cmd: 'start', rate, sampleEvery: SAMPLE });
    await sleep(WARMUP * 1000);
    const { results: [result], cpu } = await measure([clients], baseline.pid!);
    const rss = peakRssMb(baseline.pid!);
    const done = message<{ sent: number; sendTimes: number[] }>(baseline, 'result');
    baseline.send({ cmd: 'stop' });
    const { sendTimes } = await done;
    const sentAt = new Map<number, number>();
    for (let i = 0; i < sendTimes.length; i += 2) sentAt.set(sendTimes[i], sendTimes[i + 1]);
    const latencies: number[] = [];
    for (let i = 0; i < result.samples.length; i += 5) {
      const ordinal = result.samples[i + 2];
      const t = sentAt.get(ordinal);
      if (ordinal % SAMPLE === 0 && t !== undefined) latencies.push(result.samples[i + 3] - t);
    }
    latencies.sort((a, b) => a - b);
    return {
      target: 'baseline ws',
      clients: clientsCount,
      rate,
      framesPerSecond: result.messages / result.seconds,
      expectedPerSecond: rate * clientsCount,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      drops: 'n/a',
      gaps: 'n/a',
      closed: result.closedEarly,
      cpuSeconds: cpu,
      cpuPercent: (100 * cpu) / result.seconds,
      peakRssMb: rss,
      clientCpuSeconds: result.clientCpuSeconds,
      bytes: result.bytes,
      entries: result.messages / clientsCount,
    };
  } finally {
    if (baseline.exitCode === null) baseline.kill('SIGKILL');
  }
}

function table(rows: Row[]): string {
  const head = ['target', 'clients', 'entries/s', 'frames/s (expected)', 'p50 ms', 'p99 ms', 'render→client p50/p99 ms', 'drops', 'gaps', 'closed', 'CPU s', 'CPU %', 'CPU µs/frame', 'peak RSS MB'];
  const lines = rows.map((r) => [
    r.target,
    String(r.clients),
    String(r.rate),
    `${Math.round(r.framesPerSecond)} (${r.expectedPerSecond})`,
    r.p50.toFixed(1),
    r.p99.toFixed(1),
    r.fanoutP50 === undefined ? '–' : `${r.fanoutP50.toFixed(1)} / ${r.fanoutP99!.toFixed(1)}`,
    String(r.drops),
    String(r.gaps),
    String(r.closed),
    r.cpuSeconds.toFixed(2),
    r.cpuPercent.toFixed(0),
    ((r.cpuSeconds * 1e6) / (r.framesPerSecond * SECONDS)).toFixed(2),
    r.peakRssMb.toFixed(0),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [fmt(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...lines.map(fmt)].join('\n');
}

async function main(): Promise<void> {
  const scenarios = opts.scenarios!.split(',').map((s) => s.split('x').map(Number) as [number, number]);
  const rows: Row[] = [];
  const tlsRows: Row[] = [];
  const verifiedRows: Row[] = [];
  const summaries: string[] = [];
  const dir = await mkdtemp(join(tmpdir(), 'bench-frames-'));
  try {
    for (const [clients, rate] of scenarios) {
      const framesFile = join(dir, `frames-${clients}-${rate}.json`);
      log(`${clients} clients at ${rate} entries/s: certstream-server…`);
      const plain = await runServer(clients, rate, framesFile);
      rows.push(...plain);
      if (opts.durable) {
        log(`${clients} durable clients at ${rate} entries/s: certstream-server…`);
        rows.push(...(await runServer(clients, rate, join(dir, `unused-${clients}-${rate}.json`), true)));
      }
      if (opts.tls) {
        log(`${clients} wss:// clients at ${rate} entries/s: certstream-server with TLS…`);
        tlsRows.push(...(await runServer(clients, rate, join(dir, `unused-tls-${clients}-${rate}.json`), false, true)));
      }
      if (opts.verified) {
        log(`${clients} plain and ${clients} verified=1 clients at ${rate} entries/s: certstream-server…`);
        const both = await runServer(clients, rate, join(dir, `unused-verified-${clients}-${rate}.json`), false, false, undefined, true);
        verifiedRows.push(...both);
        summaries.push(verifiedSummary(plain[0], both));
      }
      log(`${clients} clients at ${rate} entries/s: baseline…`);
      rows.push(await runBaseline(clients, rate, framesFile));
      if (opts.filtered !== undefined) {
        const unfiltered = rows[rows.length - (opts.durable ? 3 : 2)];
        const filtered: Row[] = [];
        for (const f of FILTER_SCENARIOS) {
          log(`${opts.filtered} clients at ${rate} entries/s, ${f.label}: certstream-server…`);
          filtered.push(...(await runServer(Number(opts.filtered), rate, join(dir, `unused-${f.label.length}-${rate}.json`), false, false, f)));
        }
        rows.push(...filtered);
        summaries.push(...filterSummary(unfiltered, filtered, SECONDS));
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const cpu = cpus();
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  console.log(`\nFan-out benchmark, ${new Date().toISOString()}`);
  console.log(`machine: ${cpu.length} × ${cpu[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Node ${process.version}, load average ${load}`);
  console.log(`settings: ${SECONDS} s measured after ${WARMUP} s warm-up, ${LOGS} RFC 6962 fake logs, server --poll-interval ${opts.poll}, stream ${opts.stream}, latency sampled 1/${SAMPLE} on ${opts.inspect} clients`);
  console.log(table([...rows, ...tlsRows, ...verifiedRows]));
  const step = (opts.durable ? 3 : 2) + (opts.filtered !== undefined ? FILTER_SCENARIOS.length : 0);
  for (let i = 0; i + step - 1 < rows.length; i += step) {
    const s = rows[i];
    const b = rows[i + (opts.durable ? 2 : 1)];
    console.log(`${s.clients} clients × ${s.rate}/s: server CPU ${(s.cpuSeconds / b.cpuSeconds).toFixed(2)}× the baseline's, client process CPU ${s.clientCpuSeconds.toFixed(1)} s / ${b.clientCpuSeconds.toFixed(1)} s`);
    if (opts.durable) {
      const d = rows[i + 1];
      const perFrame = (r: Row) => r.cpuSeconds / Math.max(1, r.framesPerSecond * SECONDS);
      console.log(`${s.clients} durable clients × ${s.rate}/s: server CPU per delivered frame ${(perFrame(d) / perFrame(s)).toFixed(2)}× plain clients', p99 ${d.p99} ms, peak RSS ${d.peakRssMb} MB`);
    }
    const t = tlsRows[i / step];
    if (t) console.log(`${t.clients} wss:// clients × ${t.rate}/s: server CPU per delivered frame ${((t.cpuSeconds / Math.max(1, t.framesPerSecond)) / (s.cpuSeconds / Math.max(1, s.framesPerSecond))).toFixed(2)}× plain ws://, p99 ${t.p99.toFixed(1)} ms`);
  }
  for (const line of summaries) console.log(line);
}

/** The verified=1 run against the plain one: latency from data.seen, and server CPU per entry streamed. */
function verifiedSummary(plain: Row, [beside, verified]: Row[]): string {
  const perEntry = (r: Row) => (r.cpuSeconds * 1e6) / Math.max(1, r.entries);
  return `${verified.clients} verified=1 clients beside ${beside.clients} plain × ${verified.rate}/s: render → client p99 ${verified.fanoutP99?.toFixed(1)} ms ` +
    `(plain beside them ${beside.fanoutP99?.toFixed(1)} ms), fake log → client p99 ${verified.p99.toFixed(1)} ms; server CPU per entry ${perEntry(beside).toFixed(0)} µs ` +
    `for both groups against ${perEntry(plain).toFixed(0)} µs with the plain clients alone (${(perEntry(beside) / perEntry(plain)).toFixed(2)}×); ` +
    `goal: p99 below one poll interval (${Number(opts.poll) * 1000} ms) + 100 ms`;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
