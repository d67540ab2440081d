/**
 * npm run bench:ingest — how many entries/s the followers fetch and decode from a local fake CT log.
 * The fake log runs in a child process (so its CPU is not ours); this process runs the real Ingest
 * (undici, JSON/base64 or tile decoding, issuer cache, cursor store) with a sink that only counts.
 * Reported: wall-clock entries/s and entries per CPU-second of this process (the one-core figure).
 *   tsx bench/ingest.ts [--entries 100000] [--max-get-entries 32] [--verify false]   (verification is on, as in the daemon)
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { Ingest } from '../src/ct/ingest.js';
import type { LogKind } from '../src/ct/types.js';
import { silentLogger } from '../src/log/logger.js';
import { createServerMetrics } from '../src/metrics/server-metrics.js';

const { values } = parseArgs({ options: { entries: { type: 'string', default: '100000' }, 'max-get-entries': { type: 'string', default: '32' }, verify: { type: 'string', default: 'true' } } });
const entries = Number(values.entries);
const maxGet = Number(values['max-get-entries']);

async function startFake(kind: LogKind): Promise<{ logList: string; stop: () => void }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'fake-ct-log/cli.ts', '--initial-size', String(entries), '--max-get-entries', String(maxGet),
      '--rfc6962-logs', kind === 'rfc6962' ? '1' : '0', '--static-logs', kind === 'static' ? '1' : '0'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const line = await new Promise<string>((resolve) => createInterface({ input: child.stdout }).once('line', resolve));
  return { logList: (JSON.parse(line) as { log_list: string }).log_list, stop: () => child.kill('SIGTERM') };
}

async function run(kind: LogKind, windows: number): Promise<{ wall: number; cpu: number }> {
  const fake = await startFake(kind);
  const dir = await mkdtemp(join(tmpdir(), 'bench-ingest-'));
  let count = 0;
  let done: () => void = () => {};
  const finished = new Promise<void>((resolve) => (done = resolve));
  const ingest = await Ingest.open({
    logList: fake.logList, stateDir: dir, backfill: entries, pollIntervalMs: 1000, userAgent: 'certstream-bench',
    refreshIntervalMs: 0, partialTileDelayMs: 0, windows, metrics: createServerMetrics({ processMetrics: false }),
    logger: silentLogger,
    verify: values.verify !== 'false',
    sink: (_log, batch) => {
      count += batch.length;
      if (count >= entries) done();
    },
  });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  ingest.start();
  await finished;
  const wall = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(cpu0);
  await ingest.stop();
  fake.stop();
  await rm(dir, { recursive: true, force: true });
  return { wall, cpu: (c.user + c.system) / 1e6 };
}

console.log(`bench:ingest — ${entries} entries per run, get-entries cap ${maxGet}`);
console.log(`machine: ${cpus()[0]?.model ?? 'unknown'} × ${cpus().length}, node ${process.version}, ${new Date().toISOString().slice(0, 10)}`);
console.log('| log kind | windows | wall s | entries/s (wall) | CPU s | entries per CPU-second |');
console.log('|---|---|---|---|---|---|');
for (const kind of ['rfc6962', 'static'] as const) {
  for (const windows of [1, 2]) {
    const r = await run(kind, windows);
    console.log(`| ${kind} | ${windows} | ${r.wall.toFixed(2)} | ${Math.round(entries / r.wall)} | ${r.cpu.toFixed(2)} | ${Math.round(entries / r.cpu)} |`);
  }
}
