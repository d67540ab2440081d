/**
 * K WebSocket clients in their own process (bench/fanout-clients.ts, forked with IPC), driven the way
 * bench:fanout drives them: connect, measure for a while, stop and collect counts and latency samples.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { FakeCtLog } from '../../fake-ct-log/fake-ct-log.js';

const ROOT = join(import.meta.dirname, '../..');

/** What fanout-clients.ts sends back after `stop`. */
export interface ClientResult {
  seconds: number;
  messages: number;
  bytes: number;
  gaps: number;
  duplicates: number;
  closedEarly: number;
  logs: string[];
  /** [log id, cert_index or -1, ordinal, arrival ms, data.seen ms or -1] per sample. */
  samples: number[];
  clientCpuSeconds: number;
}

/** The next IPC message of `type` from a forked bench process (its `error` messages are printed). */
export function message<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: { type: string; message?: string }) => {
      if (m.type === type) {
        child.off('message', onMessage);
        resolve(m as T);
      } else if (m.type === 'error') process.stderr.write(`bench: client error: ${m.message}\n`);
    };
    child.on('message', onMessage);
    child.once('exit', (code) => reject(new Error(`child exited (${code}) before "${type}"`)));
  });
}

export class ClientPool {
  private constructor(private readonly child: ChildProcess) {}

  /** Forks the client process and resolves once all `clients` WebSockets on `url` are open. */
  static async connect(url: string, clients: number, sampleEvery: number, inspect: number): Promise<ClientPool> {
    const child = fork(join(ROOT, 'bench/fanout-clients.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const connected = message(child, 'connected');
    child.send({ cmd: 'connect', url, clients, sampleEvery, inspect });
    try {
      await connected;
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    }
    return new ClientPool(child);
  }

  /** Starts counting frames. */
  measure(): void {
    this.child.send({ cmd: 'measure' });
  }

  /** Stops counting; the client process sends its result and exits. */
  async stop(): Promise<ClientResult> {
    const done = message<ClientResult>(this.child, 'result');
    this.child.send({ cmd: 'stop' });
    return done;
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

/**
 * Latencies (ms) of the sampled frames: arrival at the client minus the time the fake log made the entry
 * available (FakeCtLog.availableAt), as bench:fanout measures it.
 */
export function latencies(result: ClientResult, fake: FakeCtLog, sampleEvery: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < result.samples.length; i += 5) {
    const [logId, index, , at] = result.samples.slice(i, i + 5);
    if (index < 0 || index % sampleEvery !== 0) continue;
    const available = fake.availableAt(result.logs[logId], index);
    if (available !== undefined) out.push(at - available);
  }
  return out;
}

/**
 * Latencies (ms) from `data.seen` — when the serving side rendered the entry (the ingest node, in NATS
 * mode) — to arrival: the distribution's part of the latency, without the wait for the next poll.
 */
export function renderLatencies(result: ClientResult, sampleEvery: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < result.samples.length; i += 5) {
    const [, index, , at, seen] = result.samples.slice(i, i + 5);
    if (index >= 0 && index % sampleEvery === 0 && seen >= 0) out.push(at - seen);
  }
  return out;
}

/** The p-th percentile of `values` (nearest rank, on a sorted copy); NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
