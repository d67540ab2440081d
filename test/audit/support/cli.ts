/** Spawns the certaudit CLI (through tsx, from source) and collects its output and exit code. */
import { spawn, type ChildProcess } from 'node:child_process';
import { pollUntil, withDeadline } from './deadline.js';

export interface CliRun {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  /** Resolves with the first stderr line matching `re`. */
  stderrLine(re: RegExp): Promise<string>;
}

export function runCli(args: string[], env: Record<string, string> = {}): CliRun {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/certaudit.ts', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const run: CliRun = {
    child,
    stdout: '',
    stderr: '',
    exited: new Promise((resolve) => child.on('close', (code) => resolve(code))),
    stderrLine(re) {
      return withDeadline(new Promise((resolve, reject) => {
        const check = () => {
          const line = run.stderr.split('\n').find((l) => re.test(l));
          if (line !== undefined) {
            child.stderr?.off('data', check);
            resolve(line);
          }
        };
        child.stderr?.on('data', check);
        child.on('close', () => reject(new Error(`process exited without a stderr line matching ${re}: ${run.stderr}`)));
        check();
      }), `a stderr line matching ${re}`);
    },
  };
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (run.stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (run.stderr += d));
  return run;
}

/** Fetches /metrics and returns the value of one sample (0 when absent). */
export async function metricValue(port: number, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const ok = Object.entries(labels).every(([k, v]) => (m[2] ?? '').includes(`${k}="${v}"`));
    if (ok) sum += Number(m[3]);
  }
  return sum;
}

/** Polls `/metrics` until `pred` holds for the value (sum over matching samples); rejects after the deadline. */
export async function untilMetric(port: number, name: string, labels: Record<string, string>, pred: (v: number) => boolean): Promise<void> {
  let last = NaN;
  await pollUntil(
    async () => pred((last = await metricValue(port, name, labels))),
    () => `${name}${JSON.stringify(labels)} to satisfy ${pred.toString()} (last value ${last})`,
  );
}
