/**
 * The real certstream-server CLI as a benchmark child process: the TypeScript source through tsx, or
 * dist/ with `built` (npm run build first). Started on port 0 with its own temp state directory; the
 * benchmark reads its CPU from /proc, its /healthz and its /metrics.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { listeningPort } from './server-port.js';

const ROOT = join(import.meta.dirname, '../..');

export interface BenchDaemon {
  /** What the tables call it: `single`, `ingest`, `edge 1`… */
  label: string;
  child: ChildProcess;
  pid: number;
  port: number;
  /** `http://127.0.0.1:PORT` */
  base: string;
  /** The daemon's warn and error log lines so far (its JSON log on stdout), newest last, at most 200. */
  warnings: string[];
  stop(): Promise<void>;
}

/** Spawns the CLI with `args` after --host/--port/--state-dir; resolves once it logs `listening`. */
export async function startDaemon(label: string, args: readonly string[], built: boolean): Promise<BenchDaemon> {
  const state = await mkdtemp(join(tmpdir(), `bench-${label.replace(/\W+/g, '-')}-`));
  const entry = built ? [join(ROOT, 'dist/cli/certstream-server.js')] : ['--import', 'tsx', join(ROOT, 'src/cli/certstream-server.ts')];
  const child = spawn(
    process.execPath,
    // BENCH_SERVER_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the servers, as in bench:fanout.
    [...(process.env.BENCH_SERVER_NODE_ARGS?.split(' ').filter(Boolean) ?? []), ...entry,
      '--host', '127.0.0.1', '--port', '0', '--state-dir', state, ...args],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    }
    await rm(state, { recursive: true, force: true });
  };
  const warnings: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (!/"level":"(warn|error)"/.test(line)) return;
    if (warnings.length === 200) warnings.shift();
    warnings.push(line);
  });
  try {
    const port = await listeningPort(child);
    return { label, child, pid: child.pid!, port, base: `http://127.0.0.1:${port}`, warnings, stop };
  } catch (err) {
    await stop();
    throw new Error(`${label}: ${(err as Error).message}`);
  }
}

/** The /healthz body, loosely typed: the benchmark reads `status` and the `nats` object. */
export interface Health {
  status: string;
  nats?: { connected?: boolean; consumer_lag?: number | null; last_seq?: number | null; delivered_seq?: number | null } | null;
}

/** Polls /healthz until `ready(body)` holds; fails with the last body after `timeoutMs`. */
export async function waitHealth(d: BenchDaemon, ready: (h: Health) => boolean, timeoutMs = 60_000): Promise<Health> {
  const deadline = Date.now() + timeoutMs;
  let last = '(no answer)';
  for (;;) {
    if (d.child.exitCode !== null) throw new Error(`${d.label} exited (${d.child.exitCode}) while waiting for /healthz`);
    try {
      const res = await fetch(`${d.base}/healthz`, { signal: AbortSignal.timeout(5000) });
      last = await res.text();
      const body = JSON.parse(last) as Health;
      if (ready(body)) return body;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`${d.label} not ready after ${timeoutMs / 1000} s: ${last.slice(0, 500)}`);
    await sleep(100);
  }
}

/** The /metrics text (Prometheus exposition). */
export async function metricsText(d: BenchDaemon): Promise<string> {
  const res = await fetch(`${d.base}/metrics`, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`${d.label}: /metrics answered ${res.status}`);
  return res.text();
}

/** Sum of a metric's samples (all label sets, or those whose line matches `labels`). */
export function sumMetric(text: string, name: string, labels?: RegExp): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
    if (labels && !labels.test(line)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}
