/**
 * Scale-out benchmark (issue 11 §4), all on this host — a ratio, not a cluster figure:
 *
 * (a) fan-out: 1 certstream-server process × CLIENTS clients against EDGES `--role edge` processes ×
 *     CLIENTS/EDGES clients each, fed through nats-server by one `--role ingest` process, at RATE
 *     entries/s. Side by side: CPU per delivered frame of the serving processes (the one process; the
 *     edges) and of everything (with the ingest node and nats-server), and the p99 latency from the
 *     moment the fake log made an entry available to its arrival at a client (as bench:fanout measures).
 * (b) publish cost: one ingest node following the fake logs at PUBLISH-RATE entries/s with `--nats`
 *     (role ingest) against the same ingest without NATS (local window off, and on as by default):
 *     its CPU per entry, and nats-server's CPU per entry.
 *
 *   npm run bench:scaleout -- [--only fanout|publish] [--seconds 10] [--warmup 3] [--clients 1000]
 *       [--edges 2] [--rate 200] [--publish-rate 2000] [--logs 8] [--poll 0.02] [--stream /]
 *       [--sample 8] [--inspect 10] [--setups single,scaleout] [--built] [--json FILE]
 *
 * Every server is the real CLI in its own process (tsx, or dist/ with --built); CPU is utime + stime from
 * /proc/PID/stat over the measured window; the fake CT log (8 RFC 6962 logs) and the nats-server of
 * test/support run here too. `--setups` picks the fan-out rows, in order: `single` (no NATS), `scaleout`
 * (edges + ingest), `all` (one `--role all --nats` process × CLIENTS: the round trip through NATS without
 * a second process); the first is the reference of the ratios. Prints a table per part and a JSON
 * summary (machine, date, load average before and after).
 */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { FakeCtLog } from '../fake-ct-log/fake-ct-log.js';
import { NatsServer } from '../test/support/nats-server.js';
import { ClientPool, latencies, percentile, renderLatencies, type ClientResult } from './support/client-pool.js';
import { metricsText, startDaemon, sumMetric, waitHealth, type BenchDaemon } from './support/daemon.js';
import { watchEdges } from './support/edge-watch.js';
import { cpuSeconds, peakRssMb, pidWithArgument } from './support/proc-stats.js';
import { Stack } from './support/teardown.js';

/** A mistake in the command line: one line, exit 2, no stack. */
function usage(message: string): never {
  process.stderr.write(`bench:scaleout: ${message}\n`);
  process.exit(2);
}

function parseOptions() {
  return parseArgs({
    options: {
      only: { type: 'string' },
      seconds: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '3' },
      clients: { type: 'string', default: '1000' },
      edges: { type: 'string', default: '2' },
      rate: { type: 'string', default: '200' },
      'publish-rate': { type: 'string', default: '2000' },
      logs: { type: 'string', default: '8' },
      poll: { type: 'string', default: '0.02' },
      stream: { type: 'string', default: '/' },
      sample: { type: 'string', default: '8' },
      inspect: { type: 'string', default: '10' },
      setups: { type: 'string', default: 'single,scaleout' },
      built: { type: 'boolean', default: false },
      json: { type: 'string' },
    },
  });
}
let parsed: ReturnType<typeof parseOptions>;
try {
  parsed = parseOptions();
} catch (err) {
  // node:util's ERR_PARSE_ARGS_* (an unknown option, a missing value).
  usage((err as Error).message.split('\n')[0]);
}
const opts = parsed.values;
const SECONDS = Number(opts.seconds);
const WARMUP = Number(opts.warmup);
const CLIENTS = Number(opts.clients);
const EDGES = Number(opts.edges);
const RATE = Number(opts.rate);
const PUBLISH_RATE = Number(opts['publish-rate']);
const LOGS = Number(opts.logs);
const SAMPLE = Number(opts.sample);
const BUILT = opts.built!;
for (const [name, v] of Object.entries({ seconds: SECONDS, warmup: WARMUP, clients: CLIENTS, edges: EDGES, rate: RATE, 'publish-rate': PUBLISH_RATE, logs: LOGS, sample: SAMPLE })) {
  if (!Number.isFinite(v) || v <= 0) usage(`--${name} must be a positive number`);
}
if (opts.only !== undefined && opts.only !== 'fanout' && opts.only !== 'publish') usage('--only must be fanout or publish');
const SETUPS = opts.setups!.split(',').map((s) => s.trim());
for (const s of SETUPS) if (s !== 'single' && s !== 'scaleout' && s !== 'all') usage(`--setups: unknown setup "${s}" (single, scaleout, all)`);

const T0 = performance.now();
function log(text: string): void {
  process.stderr.write(`bench [${((performance.now() - T0) / 1000).toFixed(1)} s]: ${text}\n`);
}

/** A process whose CPU is counted: the servers, and nats-server. */
interface Counted {
  label: string;
  pid: number;
}

interface ProcessFigures {
  label: string;
  cpuSeconds: number;
  peakRssMb: number;
}

interface FanoutRow {
  setup: string;
  clients: number;
  rate: number;
  seconds: number;
  framesPerSecond: number;
  /** Entries the fake logs appended per second over the window (its timer runs late on a busy host). */
  appendedPerSecond: number;
  /** appendedPerSecond × clients. */
  expectedPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** From data.seen (rendered, by the ingest node in NATS mode) to arrival. */
  renderP50Ms: number;
  renderP99Ms: number;
  drops: number;
  gapsOrDuplicates: number;
  closed: number;
  /** CPU of the processes that hold client sockets. */
  servingCpuSeconds: number;
  servingCpuUsPerFrame: number;
  /** The same with the ingest node and nats-server. */
  totalCpuSeconds: number;
  totalCpuUsPerFrame: number;
  clientCpuSeconds: number;
  processes: ProcessFigures[];
  /** Per serving process: its clients' frames and latencies (tells one stalled edge from a slow bus). */
  serving: { label: string; frames: number; p99Ms: number; renderP99Ms: number; maxBehind: number | null }[];
  /** The servers' warn/error log lines up to the end of the run (what they said went wrong). */
  warnings: string[];
  /** Summed over the daemons after the run; null without NATS. */
  nats: { consumerLag: number; tailGaps: number; publishErrors: number; peerSkipped: number } | null;
}

interface PublishRow {
  setup: string;
  rate: number;
  seconds: number;
  /** What the fake logs appended per second over the window. */
  appendedPerSecond: number;
  entriesPerSecond: number;
  ingestCpuSeconds: number;
  ingestCpuUsPerEntry: number;
  natsCpuSeconds: number | null;
  natsCpuUsPerEntry: number | null;
  stored: number | null;
  duplicates: number | null;
  publishErrors: number | null;
  peakRssMb: number;
  warnings: string[];
}

async function startNats(stack: Stack): Promise<{ nats: NatsServer; counted: Counted }> {
  const nats = await NatsServer.start();
  stack.add(() => nats.dispose());
  const pid = pidWithArgument(nats.storeDir);
  if (pid === undefined) throw new Error(`cannot find the pid of nats-server (store ${nats.storeDir}) in /proc`);
  return { nats, counted: { label: 'nats-server', pid } };
}

async function daemon(stack: Stack, label: string, args: readonly string[]): Promise<BenchDaemon> {
  const d = await startDaemon(label, args, BUILT);
  stack.add(() => d.stop());
  await waitHealth(d, (h) => h.status === 'ok');
  return d;
}

/** Entries in all the fake logs now. */
const appendedSoFar = (fake: FakeCtLog): number => fake.logs.reduce((sum, l) => sum + fake.size(l.url), 0);

const cpuOf = (ps: readonly Counted[]): number[] => ps.map((p) => cpuSeconds(p.pid));

/**
 * One fan-out setup: `serving` hold the clients (CLIENTS split evenly), `others` are counted in the total.
 * The fake log grows at RATE from after the clients connected; WARMUP s later, SECONDS s are measured.
 */
async function measureFanout(setup: string, fake: FakeCtLog, serving: BenchDaemon[], others: Counted[], stack: Stack): Promise<FanoutRow> {
  const pools: ClientPool[] = [];
  const inspect = Math.ceil(Number(opts.inspect) / serving.length);
  for (const [i, d] of serving.entries()) {
    const n = Math.floor(CLIENTS / serving.length) + (i < CLIENTS % serving.length ? 1 : 0);
    const pool = await ClientPool.connect(`ws://127.0.0.1:${d.port}${opts.stream}`, n, SAMPLE, inspect);
    stack.add(() => pool.kill());
    pools.push(pool);
  }
  log(`${setup}: ${CLIENTS} clients connected`);
  fake.grow(RATE);
  await sleep(WARMUP * 1000);
  const counted: Counted[] = [...serving, ...others];
  const behind = others.length === 0 ? undefined : watchEdges(serving);
  const appended0 = appendedSoFar(fake);
  const cpu0 = cpuOf(counted);
  const t0 = performance.now();
  for (const p of pools) p.measure();
  await sleep(SECONDS * 1000);
  const done = Promise.all(pools.map((p) => p.stop()));
  const cpu1 = cpuOf(counted);
  const wall = (performance.now() - t0) / 1000;
  const appendedPerSecond = (appendedSoFar(fake) - appended0) / wall;
  const maxBehind = await behind?.stop();
  const results: ClientResult[] = await done;
  fake.grow(0);
  const cpu = cpu1.map((c, i) => c - cpu0[i]);
  let drops = 0;
  let closed = 0;
  for (const d of serving) {
    const m = await metricsText(d);
    drops += sumMetric(m, 'certstream_client_dropped_messages_total');
    closed += sumMetric(m, 'certstream_client_disconnects_total', /reason="(slow|ping_timeout)"/);
  }
  // What NATS mode says went wrong, if anything: a lagging consumer, a gap in the tail, a failed publish.
  const nats = others.length === 0 ? null : { consumerLag: 0, tailGaps: 0, publishErrors: 0, peerSkipped: 0 };
  for (const d of counted) {
    if (nats === null || !('base' in d)) continue;
    const m = await metricsText(d as BenchDaemon);
    nats.consumerLag += sumMetric(m, 'certstream_nats_consumer_lag');
    nats.tailGaps += sumMetric(m, 'certstream_nats_tail_gaps_total');
    nats.publishErrors += sumMetric(m, 'certstream_nats_publish_errors_total');
    nats.peerSkipped += sumMetric(m, 'certstream_nats_peer_skipped_total');
  }
  const frames = results.reduce((s, r) => s + r.messages, 0);
  const seconds = results.reduce((s, r) => s + r.seconds, 0) / results.length;
  const lat = results.flatMap((r) => latencies(r, fake, SAMPLE));
  const renderLat = results.flatMap((r) => renderLatencies(r, SAMPLE));
  const servingCpu = cpu.slice(0, serving.length).reduce((a, b) => a + b, 0);
  const totalCpu = cpu.reduce((a, b) => a + b, 0);
  log(`${setup}: ${frames} frames in ${wall.toFixed(1)} s, ${lat.length} latency samples, drops ${drops}`);
  return {
    setup,
    clients: CLIENTS,
    rate: RATE,
    seconds,
    framesPerSecond: frames / seconds,
    appendedPerSecond,
    expectedPerSecond: Math.round(appendedPerSecond * CLIENTS),
    p50Ms: percentile(lat, 50),
    p99Ms: percentile(lat, 99),
    renderP50Ms: percentile(renderLat, 50),
    renderP99Ms: percentile(renderLat, 99),
    drops,
    gapsOrDuplicates: results.reduce((s, r) => s + r.gaps + r.duplicates, 0),
    closed: closed + results.reduce((s, r) => s + r.closedEarly, 0),
    servingCpuSeconds: servingCpu,
    servingCpuUsPerFrame: (servingCpu * 1e6) / Math.max(1, frames),
    totalCpuSeconds: totalCpu,
    totalCpuUsPerFrame: (totalCpu * 1e6) / Math.max(1, frames),
    clientCpuSeconds: results.reduce((s, r) => s + r.clientCpuSeconds, 0),
    processes: counted.map((p, i) => ({ label: p.label, cpuSeconds: cpu[i], peakRssMb: peakRssMb(p.pid) })),
    serving: serving.map((d, i) => ({
      label: d.label,
      frames: results[i].messages,
      p99Ms: percentile(latencies(results[i], fake, SAMPLE), 99),
      renderP99Ms: percentile(renderLatencies(results[i], SAMPLE), 99),
      maxBehind: maxBehind?.[i] ?? null,
    })),
    nats,
    warnings: [...serving, ...others].flatMap((d) => ('warnings' in d ? (d as BenchDaemon).warnings.map((w) => `${d.label}: ${w}`) : [])),
  };
}

type FanoutSetup = 'single' | 'all' | 'scaleout';

async function runFanout(kind: FanoutSetup): Promise<FanoutRow> {
  const stack = new Stack();
  try {
    const fake = await FakeCtLog.start({ rfc6962Logs: LOGS, staticLogs: 0, initialSize: 1000 });
    stack.add(() => fake.close());
    const follow = ['--log-list', fake.logListUrl, '--poll-interval', opts.poll!];
    if (kind === 'single') {
      const d = await daemon(stack, 'single', follow);
      return await measureFanout('1 process', fake, [d], [], stack);
    }
    const { nats, counted: natsProc } = await startNats(stack);
    const withNats = ['--nats', nats.url];
    if (kind === 'all') {
      const d = await daemon(stack, 'all', [...follow, ...withNats, '--role', 'all']);
      return await measureFanout('1 process --role all --nats', fake, [d], [natsProc], stack);
    }
    // Edges first: they start live at the stream's end, and the ingest publishes only what the logs add.
    const edges: BenchDaemon[] = [];
    for (let i = 1; i <= EDGES; i++) edges.push(await daemon(stack, `edge ${i}`, [...withNats, '--role', 'edge']));
    const ingest = await daemon(stack, 'ingest', [...follow, ...withNats, '--role', 'ingest']);
    return await measureFanout(`${EDGES} edges + ingest + nats-server`, fake, edges, [ingest, natsProc], stack);
  } finally {
    await stack.close();
  }
}

type PublishSetup = 'nats' | 'no-window' | 'window';

async function runPublish(kind: PublishSetup): Promise<PublishRow> {
  const stack = new Stack();
  try {
    const fake = await FakeCtLog.start({ rfc6962Logs: LOGS, staticLogs: 0, initialSize: 1000 });
    stack.add(() => fake.close());
    const follow = ['--log-list', fake.logListUrl, '--poll-interval', opts.poll!];
    let natsProc: Counted | undefined;
    let d: BenchDaemon;
    let setup: string;
    if (kind === 'nats') {
      const started = await startNats(stack);
      natsProc = started.counted;
      d = await daemon(stack, 'ingest', [...follow, '--nats', started.nats.url, '--role', 'ingest']);
      setup = '--role ingest --nats';
    } else {
      d = await daemon(stack, 'plain', [...follow, ...(kind === 'no-window' ? ['--replay-window', '0'] : [])]);
      setup = kind === 'no-window' ? 'no NATS, --replay-window 0' : 'no NATS, local replay window (default)';
    }
    fake.grow(PUBLISH_RATE);
    await sleep(WARMUP * 1000);
    const counted: Counted[] = natsProc ? [d, natsProc] : [d];
    const m0 = await metricsText(d);
    const appended0 = appendedSoFar(fake);
    const cpu0 = cpuOf(counted);
    const t0 = performance.now();
    await sleep(SECONDS * 1000);
    const m1 = await metricsText(d);
    const cpu1 = cpuOf(counted);
    const seconds = (performance.now() - t0) / 1000;
    const appendedPerSecond = (appendedSoFar(fake) - appended0) / seconds;
    fake.grow(0);
    const delta = (name: string, labels?: RegExp) => sumMetric(m1, name, labels) - sumMetric(m0, name, labels);
    const entries = delta('certstream_entries_total');
    const stored = natsProc ? delta('certstream_nats_published_total', /result="stored"/) : null;
    const ingestCpu = cpu1[0] - cpu0[0];
    const natsCpu = natsProc ? cpu1[1] - cpu0[1] : null;
    // Per entry the node followed; with NATS, per entry stored in the stream when the node does not count
    // certstream_entries_total itself.
    const perEntry = entries > 0 ? entries : (stored ?? 0);
    log(`${setup}: ${entries} entries${stored === null ? '' : `, ${stored} stored`} in ${seconds.toFixed(1)} s`);
    return {
      setup,
      rate: PUBLISH_RATE,
      seconds,
      appendedPerSecond,
      entriesPerSecond: perEntry / seconds,
      ingestCpuSeconds: ingestCpu,
      ingestCpuUsPerEntry: (ingestCpu * 1e6) / Math.max(1, perEntry),
      natsCpuSeconds: natsCpu,
      natsCpuUsPerEntry: natsCpu === null ? null : (natsCpu * 1e6) / Math.max(1, perEntry),
      stored,
      duplicates: natsProc ? delta('certstream_nats_published_total', /result="duplicate"/) : null,
      publishErrors: natsProc ? delta('certstream_nats_publish_errors_total') : null,
      peakRssMb: peakRssMb(d.pid),
      warnings: [...d.warnings],
    };
  } finally {
    await stack.close();
  }
}

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((l) => l[i].length)));
  const fmt = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [fmt(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(fmt)].join('\n');
}

const f = (n: number | null, digits = 1): string => (n === null || Number.isNaN(n) ? '–' : n.toFixed(digits));
const loadAverage = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

async function main(): Promise<void> {
  const started = new Date();
  const loadBefore = loadAverage();
  const fanout: FanoutRow[] = [];
  const publish: PublishRow[] = [];
  if (opts.only !== 'publish') {
    for (const kind of SETUPS as FanoutSetup[]) {
      log(`fan-out, ${kind}: ${CLIENTS} clients at ${RATE} entries/s…`);
      fanout.push(await runFanout(kind));
    }
  }
  if (opts.only !== 'fanout') {
    for (const kind of ['nats', 'no-window', 'window'] as const) {
      log(`publish, ${kind}: ${PUBLISH_RATE} entries/s…`);
      publish.push(await runPublish(kind));
    }
  }
  const loadAfter = loadAverage();
  const cpu = cpus();
  const machine = { cpuModel: cpu[0]?.model ?? '?', cores: cpu.length, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version };
  console.log(`\nScale-out benchmark, ${started.toISOString()} (all on one host: ratios, not cluster figures)`);
  console.log(`machine: ${machine.cores} × ${machine.cpuModel}, ${machine.memGiB} GiB RAM, Node ${machine.node}, load average ${loadBefore} before, ${loadAfter} after`);
  // Every process here shares the machine's cores: under other load the figures measure the contention.
  if (Number(loadBefore.split(' ')[0]) >= machine.cores) console.log(`warning: load average ${loadBefore.split(' ')[0]} ≥ ${machine.cores} cores before the run: the figures are bound by other work on this machine`);
  console.log(`settings: ${SECONDS} s measured after ${WARMUP} s warm-up, ${LOGS} RFC 6962 fake logs, --poll-interval ${opts.poll}, ${BUILT ? 'dist/' : 'tsx'}`);
  if (fanout.length > 0) {
    console.log(`\n(a) fan-out: ${CLIENTS} clients on ${opts.stream} at ${RATE} entries/s (expected frames/s: what the fake logs appended in the window × clients); latency = client arrival − entry available in the fake log, sampled 1/${SAMPLE}`);
    console.log(
      table(
        ['setup', 'frames/s (expected)', 'p50 ms', 'p99 ms', 'render→client p50/p99 ms', 'drops', 'gaps', 'closed', 'serving CPU s', 'serving µs/frame', 'total CPU s', 'total µs/frame', 'CPU s by process'],
        fanout.map((r) => [
          r.setup, `${Math.round(r.framesPerSecond)} (${r.expectedPerSecond})`, f(r.p50Ms), f(r.p99Ms), `${f(r.renderP50Ms)} / ${f(r.renderP99Ms)}`, String(r.drops), String(r.gapsOrDuplicates), String(r.closed),
          f(r.servingCpuSeconds, 2), f(r.servingCpuUsPerFrame, 2), f(r.totalCpuSeconds, 2), f(r.totalCpuUsPerFrame, 2),
          r.processes.map((p) => `${p.label} ${p.cpuSeconds.toFixed(2)}`).join(', '),
        ]),
      ),
    );
    for (const r of fanout) {
      if (r.serving.length > 1) console.log(`${r.setup}: by serving process: ${r.serving.map((s) => `${s.label} ${s.frames} frames, p99 ${f(s.p99Ms)} ms (render→client ${f(s.renderP99Ms)} ms), at worst ${s.maxBehind ?? '?'} messages behind`).join('; ')}`);
      for (const w of r.warnings.slice(0, 10)) console.log(`${r.setup}: server said: ${w}`);
      if (r.nats) console.log(`${r.setup}: NATS consumer lag ${r.nats.consumerLag} after the run, tail gaps ${r.nats.tailGaps}, publish errors ${r.nats.publishErrors}, peer-skipped ${r.nats.peerSkipped}`);
    }
    const single = fanout[0];
    for (const r of fanout.slice(1)) {
      console.log(`${r.setup} vs ${single.setup}: serving CPU per frame ${(r.servingCpuUsPerFrame / single.servingCpuUsPerFrame).toFixed(2)}×, total ${(r.totalCpuUsPerFrame / single.totalCpuUsPerFrame).toFixed(2)}×; p99 ${f(r.p99Ms)} ms vs ${f(single.p99Ms)} ms`);
    }
  }
  let publishCost: { ingestUsPerEntry: number; natsServerUsPerEntry: number | null } | undefined;
  if (publish.length > 0) {
    console.log(`\n(b) publish cost: one ingest node at ${PUBLISH_RATE} entries/s, no clients`);
    console.log(
      table(
        ['setup', 'entries/s (appended)', 'ingest CPU s', 'ingest µs/entry', 'nats-server CPU s', 'nats-server µs/entry', 'stored', 'duplicates', 'publish errors', 'peak RSS MB'],
        publish.map((r) => [
          r.setup, `${f(r.entriesPerSecond, 0)} (${f(r.appendedPerSecond, 0)})`, f(r.ingestCpuSeconds, 2), f(r.ingestCpuUsPerEntry), f(r.natsCpuSeconds, 2), f(r.natsCpuUsPerEntry),
          r.stored === null ? '–' : String(r.stored), r.duplicates === null ? '–' : String(r.duplicates), r.publishErrors === null ? '–' : String(r.publishErrors), f(r.peakRssMb, 0),
        ]),
      ),
    );
    for (const r of publish) for (const w of r.warnings.slice(0, 10)) console.log(`${r.setup}: server said: ${w}`);
    const [withNats, bare] = publish;
    publishCost = { ingestUsPerEntry: withNats.ingestCpuUsPerEntry - bare.ingestCpuUsPerEntry, natsServerUsPerEntry: withNats.natsCpuUsPerEntry };
    console.log(`JetStream publish: +${f(publishCost.ingestUsPerEntry)} µs of ingest CPU per entry over the same ingest without NATS (window off), plus ${f(publishCost.natsServerUsPerEntry)} µs of nats-server CPU`);
  }
  const summary = {
    benchmark: 'scaleout',
    date: started.toISOString(),
    command: `npm run bench:scaleout -- ${process.argv.slice(2).join(' ')}`.trim(),
    machine,
    loadAverage: { before: loadBefore, after: loadAfter },
    settings: { seconds: SECONDS, warmup: WARMUP, clients: CLIENTS, edges: EDGES, rate: RATE, publishRate: PUBLISH_RATE, logs: LOGS, poll: Number(opts.poll), stream: opts.stream, sample: SAMPLE, built: BUILT },
    fanout,
    publish,
    publishCost,
  };
  const json = JSON.stringify(summary, null, 2);
  console.log(`\nJSON summary:\n${json}`);
  if (opts.json) await writeFile(opts.json, json + '\n');
}

main().catch((err: unknown) => {
  console.error(`bench:scaleout: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
