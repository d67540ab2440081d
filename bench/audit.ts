/**
 * npm run bench:audit — what `certaudit compare` costs (issue 6 §5).
 *
 * 1. Live: two WebSocket feeds in this process send realistic lite frames (the golden calidog frame,
 *    1.7 kB, with its index and log changed) at --rate frames/s each over --logs logs, feed a losing
 *    0.5 % of them. The real CLI follows both in a child process (with --metrics-port, as
 *    certaudit.service runs it) for --seconds; its CPU time (utime + stime from /proc) over the wall time and its peak RSS are the
 *    figures. Goal: under a quarter of one core at 5,000 frames/s per feed.
 * 2. A simulated day: the Comparator alone, driven with a virtual clock through --sim-hours of
 *    entries at --rate per feed (0.5 % random loss on a, a 2 s outage of a every 5 minutes, judged every
 *    second with a 60 s grace), sampling RSS every simulated hour. Goal: a day stays under 100 MB RSS.
 *
 * Both run as plain JavaScript (the CLI and this file compiled with tsc into node_modules/.cache, as
 * `npm run build` would), in child processes of their own: the tsx loader alone adds ~35 MB of RSS.
 *
 *   tsx bench/audit.ts [--rate 5000] [--seconds 30] [--logs 10] [--sim-hours 24]
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { WebSocketServer } from 'ws';
import { Comparator } from '../src/audit/compare/comparator.js';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '5000' },
    seconds: { type: 'string', default: '30' },
    logs: { type: 'string', default: '10' },
    'sim-hours': { type: 'string', default: '24' },
    'node-options': { type: 'string', default: '' },
    mode: { type: 'string', default: 'all' },
  },
});
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const logCount = Number(values.logs);
const simHours = Number(values['sim-hours']);
/** Extra V8/Node flags for the measured processes, e.g. --node-options=--max-semi-space-size=4. */
const nodeFlags = values['node-options'] ? values['node-options'].split(' ').filter(Boolean) : [];

const TEMPLATE = readFileSync('test/fixtures/calidog-golden/out/x509_entry.lite.json', 'utf8').trim();
const LOGS = Array.from({ length: logCount }, (_, i) => `https://ct.example.net/bench${i}/`);

function frame(log: number, index: number): string {
  return TEMPLATE.replaceAll('123456789', String(index)).replaceAll('https://ct.googleapis.com/logs/us1/argon2025h1/', LOGS[log]);
}

/** A feed server that sends `rate` frames/s to every client, in 10 ms batches. */
async function startFeed(lossRatio: number): Promise<{ url: string; sent: () => number; stop: () => Promise<void> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await once(wss, 'listening');
  const port = (wss.address() as { port: number }).port;
  const next = new Array<number>(logCount).fill(1_000_000);
  let sent = 0;
  let carry = 0;
  let k = 0;
  // Deterministic loss pattern so both runs of the bench lose the same share.
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    const elapsed = now - last;
    last = now;
    if (wss.clients.size === 0) return;
    // Timers fire late under load: send what the elapsed time calls for, not a fixed batch.
    carry += (rate * elapsed) / 1000;
    const n = Math.floor(carry);
    carry -= n;
    for (let j = 0; j < n; j++) {
      const log = k % logCount;
      const index = next[log]++;
      k++;
      if ((k * 2654435761) % 1000 < lossRatio * 1000) continue;
      const text = frame(log, index);
      for (const ws of wss.clients) ws.send(text);
      sent++;
    }
  }, 10);
  return {
    url: `ws://127.0.0.1:${port}/`,
    sent: () => sent,
    stop: async () => {
      clearInterval(timer);
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
    },
  };
}

function procCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
  return ticks / 100; // USER_HZ is 100 on Linux
}

function procRssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

async function live(): Promise<Record<string, number | string>> {
  const a = await startFeed(0.005);
  const b = await startFeed(0);
  const child = spawn(process.execPath, [...nodeFlags, join(OUT, 'src/cli/certaudit.js'), 'compare', '--a', a.url, '--b', b.url, '--duration', String(seconds + 3), '--json', '--grace', '5',
    // As certaudit.service runs it: with its metrics endpoint (and prom-client) loaded.
    '--metrics-port', '0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = once(child, 'close');
  // Warm-up (start-up, JIT, connections) is not part of the steady-state figure.
  await new Promise((r) => setTimeout(r, 3_000));
  const pid = child.pid!;
  const cpu0 = procCpuSeconds(pid);
  const wall0 = performance.now();
  const sent0 = a.sent() + b.sent();
  let peakRss = 0;
  const sampler = setInterval(() => {
    try {
      peakRss = Math.max(peakRss, procRssMb(pid));
    } catch {
      // the child has exited
    }
  }, 500);
  await new Promise((r) => setTimeout(r, seconds * 1000 - 500));
  const cpu1 = procCpuSeconds(pid);
  const wall1 = performance.now();
  const sent1 = a.sent() + b.sent();
  clearInterval(sampler);
  await exited;
  await a.stop();
  await b.stop();
  const report = JSON.parse(out) as { totals: { union: number; missed_by_a: number; miss_ratio_a: number } };
  const wall = (wall1 - wall0) / 1000;
  return {
    frames_per_second_per_feed: Math.round((sent1 - sent0) / 2 / wall),
    cpu_share_of_one_core: Math.round(((cpu1 - cpu0) / wall) * 1000) / 1000,
    peak_rss_mb: Math.round(peakRss),
    judged_union: report.totals.union,
    missed_by_a: report.totals.missed_by_a,
    miss_ratio_a: report.totals.miss_ratio_a,
  };
}

function simulatedDay(): Record<string, number | number[]> {
  const c = new Comparator();
  const T0 = Date.UTC(2026, 0, 1);
  const step = 1000 / (rate * 1); // ms between entries of one feed (all logs together)
  const next = new Array<number>(logCount).fill(0);
  const end = T0 + simHours * 3_600_000;
  let t = T0;
  let judgeAt = T0 + 1000;
  let hourAt = T0 + 3_600_000;
  let k = 0;
  let maxRss = 0;
  let maxFootprint = 0;
  const rssByHour: number[] = [];
  const started = performance.now();
  c.connect('a', T0);
  c.connect('b', T0);
  let aDown = false;
  while (t < end) {
    // a 2 s outage of feed a every 5 minutes
    const inCycle = (t - T0) % 300_000;
    if (!aDown && inCycle >= 298_000) {
      aDown = true;
      c.disconnect('a', t, 1006);
    } else if (aDown && inCycle < 298_000) {
      aDown = false;
      c.connect('a', t);
    }
    const log = k % logCount;
    const index = next[log]++;
    k++;
    const name = LOGS[log];
    c.entry('b', name, index, t);
    if (!aDown && (k * 2654435761) % 1000 >= 5) c.entry('a', name, index, t + 20);
    t += step;
    if (t >= judgeAt) {
      c.judge(judgeAt - 60_000);
      judgeAt += 1000;
      maxFootprint = Math.max(maxFootprint, c.footprint());
    }
    if (t >= hourAt) {
      hourAt += 3_600_000;
      const rss = process.memoryUsage().rss / 1048576;
      rssByHour.push(Math.round(rss));
      maxRss = Math.max(maxRss, rss);
    }
  }
  c.judge(end);
  const totals = c.logCounts().reduce((s, l) => ({ union: s.union + l.union, loss: s.loss + l.reconnect_loss_a }), { union: 0, loss: 0 });
  return {
    simulated_hours: simHours,
    entries_per_feed: k,
    judged_union: totals.union,
    reconnect_loss_a: totals.loss,
    peak_footprint_numbers: maxFootprint,
    peak_rss_mb: Math.round(Math.max(maxRss, process.memoryUsage().rss / 1048576)),
    seconds_taken: Math.round((performance.now() - started) / 1000),
    rss_mb_by_hour: rssByHour,
  };
}

async function simulatedInChild(): Promise<Record<string, number | number[]>> {
  const child = spawn(
    process.execPath,
    [...nodeFlags, join(OUT, 'bench/audit.js'), '--mode', 'sim', '--rate', String(rate), '--logs', String(logCount), '--sim-hours', String(simHours)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  let peak = 0;
  const sampler = setInterval(() => {
    try {
      peak = Math.max(peak, procRssMb(child.pid!));
    } catch {
      // exited
    }
  }, 250);
  await once(child, 'close');
  clearInterval(sampler);
  const result = JSON.parse(out.trim().split('\n').pop()!) as Record<string, number | number[]>;
  return { ...result, peak_rss_mb_sampled: Math.round(peak) };
}

/** Where the benchmark's JavaScript is compiled to. */
const OUT = 'node_modules/.cache/certaudit-bench';

/** Compiles the CLI and this file (and only what they import) with the project's TypeScript. */
function compile(): void {
  const r = spawnSync(
    process.execPath,
    ['node_modules/typescript/bin/tsc', 'src/cli/certaudit.ts', 'bench/audit.ts', '--outDir', OUT, '--rootDir', '.',
      '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--skipLibCheck', '--types', 'node'],
    { stdio: 'inherit' },
  );
  if (r.status !== 0 || !existsSync(join(OUT, 'src/cli/certaudit.js'))) throw new Error('bench:audit: compiling failed');
  // src/version.ts reads ../package.json, as it does from dist/.
  copyFileSync('package.json', join(OUT, 'package.json'));
}

if (values.mode === 'sim') {
  console.log(JSON.stringify(simulatedDay()));
} else {
  const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}`;
  console.log(`bench:audit on ${machine}, ${new Date().toISOString()}, node flags: ${nodeFlags.join(' ') || 'none'}`);
  compile();
  const l = await live();
  console.log(`live: ${JSON.stringify(l)}`);
  const d = await simulatedInChild();
  console.log(`simulated: ${JSON.stringify(d)}`);
}
