/**
 * npm run bench:idle — the daemon's memory at rest: the built server (dist/) follows a quiet set of
 * logs (the fake CT log in this process: 3 RFC 6962 + 3 static-ct-api logs growing by --rate entries/s
 * in total) with no client connected, at the default poll interval, started as the systemd unit starts
 * it: the unit's node flags (ExecStart) and any glibc malloc settings it sets (Environment=MALLOC_*) are
 * read from systemd/certstream-server.service, so the figure is the deployed one (--without-unit-env:
 * neither; also a way to try a malloc setting: add it to the unit, compare).
 * Its RSS (from /proc) is sampled every 10 s for --minutes; reported: RSS at start, at 5 minutes, the
 * minimum, maximum and mean over the last minute, and the V8 heap and external memory from its /metrics.
 * The goal (issue 20): at most 80 MB after 5 minutes idle, flat over the last minute. Tested as: the
 * sample at 5 minutes and every sample of the last minute at most 80 MB, and no growth: the last
 * minute's mean at most 2 MB above the mean of the minute before (a server that polls its logs every
 * 5 s wobbles by a few MB from one sample to the next; growth is what the goal is about).
 *   npm run build && tsx bench/idle.ts [--minutes 6] [--rate 20] [--without-unit-env]
 */
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { FakeCtLog } from '../fake-ct-log/fake-ct-log.js';
import { metricsText, startDaemon, sumMetric, type BenchDaemon } from './support/daemon.js';
import { rssMb } from './support/proc-stats.js';

const USAGE = 'usage: tsx bench/idle.ts [--minutes M (>= 2)] [--rate ENTRIES_PER_SECOND] [--without-unit-env]';
const UNIT = join(import.meta.dirname, '../systemd/certstream-server.service');
const GOAL_MB = 80;
/** "Flat": the last minute's mean is at most this many MB above the minute before's. */
const FLAT_MB = 2;

function options(): { minutes: number; rate: number; unitEnv: boolean } {
  try {
    const { values } = parseArgs({
      options: { minutes: { type: 'string', default: '6' }, rate: { type: 'string', default: '20' }, 'without-unit-env': { type: 'boolean', default: false } },
      strict: true,
    });
    const minutes = Number(values.minutes);
    const rate = Number(values.rate);
    if (!(minutes >= 2) || !(rate >= 0)) throw new Error('--minutes must be >= 2 and --rate >= 0');
    return { minutes, rate, unitEnv: !values['without-unit-env'] };
  } catch (err) {
    process.stderr.write(`bench:idle: ${(err as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
}

/** The unit's memory settings: node's flags from ExecStart and the MALLOC_* variables of Environment=. */
function unitMemorySettings(): { nodeArgs: string[]; env: Record<string, string> } {
  const lines = readFileSync(UNIT, 'utf8').split('\n');
  const exec = lines.find((l) => l.startsWith('ExecStart='))?.slice('ExecStart='.length).split(/\s+/) ?? [];
  const nodeArgs = exec.slice(1).filter((arg) => arg.startsWith('--'));
  const env: Record<string, string> = {};
  for (const line of lines.filter((l) => l.startsWith('Environment='))) {
    for (const pair of line.slice('Environment='.length).split(/\s+/)) {
      const [key, value] = pair.split('=');
      if (key.startsWith('MALLOC_') && value !== undefined) env[key] = value;
    }
  }
  return { nodeArgs, env };
}

/** The daemon's V8 heap and external memory now, MB (prom-client's process metrics). */
async function heapMb(daemon: BenchDaemon): Promise<{ heapUsed: number; heapTotal: number; external: number }> {
  const text = await metricsText(daemon);
  const mb = (name: string) => sumMetric(text, name) / 1024 / 1024;
  return { heapUsed: mb('nodejs_heap_size_used_bytes'), heapTotal: mb('nodejs_heap_size_total_bytes'), external: mb('nodejs_external_memory_bytes') };
}

const load = () => loadavg().map((l) => l.toFixed(2)).join(' / ');

async function main(): Promise<void> {
  const { minutes, rate, unitEnv } = options();
  const unit = unitEnv ? unitMemorySettings() : { nodeArgs: [], env: {} };
  // The child inherits this process's environment; the flags go before the entry point (support/daemon.ts).
  Object.assign(process.env, unit.env);
  process.env.BENCH_SERVER_NODE_ARGS = [process.env.BENCH_SERVER_NODE_ARGS ?? '', ...unit.nodeArgs].join(' ').trim();
  const loadBefore = load();
  const startedAt = new Date().toISOString().slice(0, 16).replace('T', ' ');
  const fake = await FakeCtLog.start({ rfc6962Logs: 3, staticLogs: 3, initialSize: 1000 });
  const daemon = await startDaemon('idle', ['--log-list', fake.logListUrl], true);
  fake.grow(rate);
  const samples: { t: number; rss: number }[] = [];
  let heapAt5: Awaited<ReturnType<typeof heapMb>> | undefined;
  let heapAtEnd: Awaited<ReturnType<typeof heapMb>>;
  const started = Date.now();
  try {
    for (;;) {
      const t = (Date.now() - started) / 1000;
      samples.push({ t, rss: rssMb(daemon.pid) });
      process.stderr.write(`  ${t.toFixed(0).padStart(4)} s  RSS ${samples.at(-1)!.rss.toFixed(1)} MB\n`);
      if (heapAt5 === undefined && t >= 300) heapAt5 = await heapMb(daemon);
      if (t >= minutes * 60) break;
      await sleep(10_000);
    }
    heapAtEnd = await heapMb(daemon);
  } finally {
    fake.grow(0);
    await daemon.stop();
    await fake.close();
  }
  const at = (s: number) => samples.reduce((best, x) => (Math.abs(x.t - s) < Math.abs(best.t - s) ? x : best)).rss;
  const end = samples.at(-1)!;
  const lastMinute = samples.filter((x) => x.t >= end.t - 60).map((x) => x.rss);
  const minuteBefore = samples.filter((x) => x.t >= end.t - 120 && x.t < end.t - 60).map((x) => x.rss);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const [min, max] = [Math.min(...lastMinute), Math.max(...lastMinute)];
  const growth = mean(lastMinute) - mean(minuteBefore);
  const heap = (h: typeof heapAtEnd | undefined) =>
    h === undefined ? 'n/a' : `heap ${h.heapUsed.toFixed(1)} MB used of ${h.heapTotal.toFixed(1)} MB, external ${h.external.toFixed(1)} MB`;
  const settings = unitEnv ? `the unit's ${[...unit.nodeArgs, ...Object.entries(unit.env).map(([k, v]) => `${k}=${v}`)].join(' ')}` : 'no unit flags or malloc environment';
  const met = at(300) <= GOAL_MB && max <= GOAL_MB && growth <= FLAT_MB;
  console.log(`bench:idle on ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, started ${startedAt} UTC`);
  console.log(`load average (1 / 5 / 15 min): ${loadBefore} at start, ${load()} at the end`);
  console.log(`6 fake logs growing by ${rate} entries/s in total, default poll interval, no client, ${minutes} min; ${settings}`);
  console.log(`RSS: ${at(0).toFixed(1)} MB at start, ${at(300).toFixed(1)} MB at 5 min, ${min.toFixed(1)}–${max.toFixed(1)} MB over the last minute (mean ${mean(lastMinute).toFixed(1)} MB, ${growth >= 0 ? '+' : ''}${growth.toFixed(1)} MB on the minute before), ${end.rss.toFixed(1)} MB at the end`);
  console.log(`at 5 min: ${heap(heapAt5)}; at the end: ${heap(heapAtEnd)}`);
  console.log(`goal (<= ${GOAL_MB} MB at 5 min and all through the last minute, whose mean is at most ${FLAT_MB} MB above the minute before's): ${met ? 'met' : 'missed'}`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:idle: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
