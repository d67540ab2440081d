/**
 * Dashboard benchmark (issue 12): what the page costs the server, beside one lite WebSocket client,
 * and how busy the browser's main thread is, with the fake CT log at the firehose rate.
 *
 *   npm run bench:dashboard -- [--rate 2000] [--seconds 20] [--logs 8] [--built] [--screenshot docs/dashboard.png]
 *
 * The fake CT log (LOGS RFC 6962 logs and one static-ct-api log, growing at RATE entries/s in total)
 * runs in this process, the real server in its own (`--built`: dist/, after `npm run build`), Chromium
 * (Debian's, through playwright-core) in its own. Three windows of SECONDS each, on the same running
 * server: no client; the dashboard open in Chromium; one lite client on `/` reading every frame.
 * Server CPU is its user + system time (/proc) over the window; the page's share is the difference to
 * the window without clients, and, more precisely, CPU per /status.json request (a burst of requests
 * measured with the logs at rest) times the page's request rate. Browser main-thread busy time is Chromium's
 * own TaskDuration (CDP Performance.getMetrics) per second, plus long tasks (> 50 ms) seen by a
 * PerformanceObserver in the page.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { WebSocket } from 'ws';
import { FakeCtLog } from '../fake-ct-log/fake-ct-log.js';
import { CHROMIUM_PATH, launchChromium } from '../test/dashboard/chromium.js';
import { cpuSeconds } from './support/proc-stats.js';
import { listeningPort } from './support/server-port.js';

const ROOT = join(import.meta.dirname, '..');

const { values: opts } = parseArgs({
  options: {
    rate: { type: 'string', default: '2000' },
    seconds: { type: 'string', default: '20' },
    logs: { type: 'string', default: '8' },
    built: { type: 'boolean', default: false },
    screenshot: { type: 'string' },
  },
});
const RATE = Number(opts.rate);
const SECONDS = Number(opts.seconds);

function log(text: string): void {
  process.stderr.write(`[bench:dashboard] ${text}\n`);
}

/** Server CPU seconds per wall second over `seconds`, while `during` runs (if given). */
async function window(pid: number, seconds: number): Promise<{ cpuPerSecond: number; wall: number }> {
  const c0 = cpuSeconds(pid);
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const wall = (performance.now() - t0) / 1000;
  return { cpuPerSecond: (cpuSeconds(pid) - c0) / wall, wall };
}

async function main(): Promise<void> {
  const fake = await FakeCtLog.start({ rfc6962Logs: Number(opts.logs), staticLogs: 1, initialSize: 1000 });
  const state = await mkdtemp(join(tmpdir(), 'bench-dashboard-'));
  const entry = opts.built ? [join(ROOT, 'dist/cli/certstream-server.js')] : ['--import', 'tsx', join(ROOT, 'src/cli/certstream-server.ts')];
  const server = spawn(
    process.execPath,
    [...entry, '--host', '127.0.0.1', '--port', '0', '--log-list', fake.logListUrl, '--state-dir', state, '--poll-interval', '1', '--partial-tile-delay', '1'],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const cleanups: (() => Promise<void>)[] = [];
  try {
    const port = await listeningPort(server);
    const pid = server.pid!;
    const base = `http://127.0.0.1:${port}`;
    for (let deadline = Date.now() + 30_000; ; ) {
      const h = (await (await fetch(`${base}/healthz`)).json()) as { status: string };
      if (h.status === 'ok') break;
      if (Date.now() > deadline) throw new Error(`server not ok after 30 s: ${h.status}`);
      await sleep(100);
    }
    fake.grow(RATE);
    log(`server ready, logs growing at ${RATE}/s; warm-up 5 s`);
    await sleep(5000);

    log('window 1: no client');
    const idle = await window(pid, SECONDS);

    log('window 2: the dashboard open in Chromium');
    const context = await launchChromium((fn) => cleanups.push(fn), { viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    let requests = 0;
    let bytes = 0;
    let counting = false;
    page.on('response', (r) => {
      if (!counting || !r.url().includes('/status.json')) return;
      requests++;
      void r.body().then((b) => (bytes += b.length), () => {});
    });
    await page.goto(`${base}/`);
    await page.waitForSelector('#recent li[data-index]', { timeout: 30_000 });
    await page.evaluate(() => {
      const g = globalThis as unknown as { longTasks: number; longestTask: number; PerformanceObserver: typeof PerformanceObserver };
      g.longTasks = 0;
      g.longestTask = 0;
      new g.PerformanceObserver((list) => {
        for (const e of list.getEntries()) {
          g.longTasks++;
          g.longestTask = Math.max(g.longestTask, e.duration);
        }
      }).observe({ type: 'longtask' } as never); // a browser entry type Node's typings do not list
    });
    const cdp = await context.newCDPSession(page);
    await cdp.send('Performance.enable');
    const metric = async (name: string) => (await cdp.send('Performance.getMetrics')).metrics.find((m) => m.name === name)?.value ?? NaN;
    await sleep(3000);
    counting = true;
    const task0 = await metric('TaskDuration');
    const script0 = await metric('ScriptDuration');
    const layout0 = (await metric('LayoutDuration')) + (await metric('RecalcStyleDuration'));
    const dash = await window(pid, SECONDS);
    counting = false;
    const busy = ((await metric('TaskDuration')) - task0) / dash.wall;
    const script = ((await metric('ScriptDuration')) - script0) / dash.wall;
    const layout = ((await metric('LayoutDuration')) + (await metric('RecalcStyleDuration')) - layout0) / dash.wall;
    const longTasks = await page.evaluate(() => {
      const g = globalThis as unknown as { longTasks: number; longestTask: number };
      return { longTasks: g.longTasks, longestTask: g.longestTask };
    });
    const shownRate = await page.textContent('#t-rate');

    if (opts.screenshot) {
      // A log in trouble, as an operator would see it: the fake serves 503 to one log from now on.
      fake.injectFault(fake.logs[2].url, { status: 503, times: 1e9 });
      await page.waitForSelector('#logs tbody tr.failing', { timeout: 30_000 });
      await page.setViewportSize({ width: 1280, height: 1350 }); // the log table and the first certificates
      await page.screenshot({ path: opts.screenshot, fullPage: false });
      log(`screenshot: ${opts.screenshot}`);
    }
    await cleanups.pop()!();

    log('window 3: one lite client reading every frame');
    let liteFrames = 0;
    let liteBytes = 0;
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    await new Promise<void>((resolve, reject) => ws.once('open', () => resolve()).once('error', reject));
    ws.on('message', (d: Buffer) => {
      liteFrames++;
      liteBytes += d.length;
    });
    await sleep(2000);
    const f0 = liteFrames;
    const b0 = liteBytes;
    const lite = await window(pid, SECONDS);
    const litePerSecond = (liteFrames - f0) / lite.wall;
    const liteBytesPerSecond = (liteBytes - b0) / lite.wall;
    ws.close();

    // The per-request cost, measured with the logs at rest (nothing else for the server to do) so that
    // it stands out of the noise of a shared machine: 2,000 requests, one after the other.
    fake.grow(0);
    for (let deadline = Date.now() + 120_000; ; await sleep(200)) {
      const h = (await (await fetch(`${base}/healthz`)).json()) as { logs: { lag: number; last_error: string | null }[] };
      // Caught up: nothing left to ingest (the log failed for the screenshot fetches nothing either).
      if (h.logs.every((l) => l.lag === 0 || l.last_error !== null)) break;
      if (Date.now() > deadline) throw new Error('the server did not catch up within 120 s');
    }
    await sleep(1000);
    const rest = await window(pid, 3);
    log('burst: 2,000 /status.json requests, one after the other');
    const c0 = cpuSeconds(pid);
    const t0 = performance.now();
    const BURST = 2000;
    for (let i = 0; i < BURST; i++) await (await fetch(`${base}/status.json?after=${1e12}`)).arrayBuffer();
    const burstWall = (performance.now() - t0) / 1000;
    const perRequestMs = ((cpuSeconds(pid) - c0 - rest.cpuPerSecond * burstWall) / BURST) * 1000;

    const pageRequestsPerSecond = requests / dash.wall;
    const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    const pct = (x: number) => `${(x * 100).toFixed(Math.abs(x) < 0.01 ? 3 : 1)} %`;
    console.log(`\n${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${cpus()[0]?.model.trim()} (${cpus().length} vCPUs, load average ${load}), ` +
      `${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${CHROMIUM_PATH}; fake log at ${RATE} entries/s over ${Number(opts.logs) + 1} logs, windows of ${SECONDS} s`);
    console.log('\n| window | server CPU | minus no-client window | to the client |');
    console.log('|---|---|---|---|');
    console.log(`| no client | ${pct(idle.cpuPerSecond)} | – | – |`);
    console.log(`| dashboard open | ${pct(dash.cpuPerSecond)} | ${pct(dash.cpuPerSecond - idle.cpuPerSecond)} | ${pageRequestsPerSecond.toFixed(2)} requests/s, ${(bytes / dash.wall / 1024).toFixed(1)} KB/s |`);
    console.log(`| one lite client | ${pct(lite.cpuPerSecond)} | ${pct(lite.cpuPerSecond - idle.cpuPerSecond)} | ${Math.round(litePerSecond)} frames/s, ${(liteBytesPerSecond / 1024).toFixed(0)} KB/s |`);
    console.log(`\n/status.json: ${perRequestMs.toFixed(2)} ms server CPU per request × ${pageRequestsPerSecond.toFixed(2)} requests/s = ` +
      `${pct((perRequestMs / 1000) * pageRequestsPerSecond)} of a core for one open dashboard.`);
    console.log(`Browser main thread: busy ${pct(busy)} of each second (script ${pct(script)}, style + layout ${pct(layout)}), ` +
      `${longTasks.longTasks} long tasks (> 50 ms, longest ${longTasks.longestTask.toFixed(0)} ms); the page showed ${shownRate} entries/s.`);
  } finally {
    for (const c of cleanups.reverse()) await c().catch(() => {});
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    await fake.close();
    await rm(state, { recursive: true, force: true });
  }
}

await main();
