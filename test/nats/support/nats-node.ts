/**
 * A certstream-server process in NATS mode (`--nats URL --role ingest|edge|all`), spawned through tsx like
 * test/support/spawned-daemon.ts, but with what failover tests need on top: every wait is bounded (a
 * node that never binds fails the test instead of hanging it), its JSON log lines are kept so a test can
 * wait on `nats connected` / `nats disconnected` as events, its stderr tail goes into failure messages,
 * and `NodeSet.stopAll()` ends every node a test started, even after a failed assertion.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const ROOT = join(import.meta.dirname, '../../..');
const ENTRY = join(ROOT, 'src/cli/certstream-server.ts');

export type Role = 'ingest' | 'edge' | 'all';

export interface NodeOptions {
  role: Role;
  nats: string;
  /** Log list URL (an ingest node needs it; an edge ignores it, so it is only passed when given). */
  logList?: string;
  /** Stream name (default: the server's own default). */
  stream?: string;
  extraArgs?: readonly string[];
}

/** One JSON log line of the daemon (the fields the tests look at). */
export interface LogLine {
  msg?: string;
  port?: number;
  [key: string]: unknown;
}

/**
 * Children still running when the test process exits (a test cancelled by its timeout, the runner's
 * --test-force-exit) are killed, so no daemon outlives the test run on a shared machine.
 */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export class NatsNode {
  readonly lines: LogLine[] = [];
  port = 0;
  private stderr = '';
  private lineWaiters: (() => void)[] = [];
  readonly exited: Promise<NodeJS.Signals | number | null>;

  private constructor(
    readonly name: string,
    readonly child: ChildProcess,
    readonly stateDir: string,
  ) {
    running.add(child);
    this.exited = new Promise((resolve) => child.once('exit', (code, sig) => (running.delete(child), resolve(sig ?? code))));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr = (this.stderr + d).slice(-4000)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let rec: LogLine;
      try {
        rec = JSON.parse(line) as LogLine;
      } catch {
        rec = { msg: line };
      }
      this.lines.push(rec);
      for (const w of this.lineWaiters.splice(0)) w();
    });
  }

  /** Spawns a node on port 0 with its own state directory; resolves once it logs `listening`. */
  static async start(name: string, o: NodeOptions, timeoutMs = 60_000): Promise<NatsNode> {
    const stateDir = await mkdtemp(join(tmpdir(), `certstream-nats-${o.role}-`));
    const args = ['--import', 'tsx', ENTRY, '--host', '127.0.0.1', '--port', '0', '--state-dir', stateDir,
      '--nats', o.nats, '--role', o.role,
      // Fast polling, whole logs as backfill, no heartbeats: the tests count every entry.
      '--backfill', '1000000', '--poll-interval', '0.05', '--heartbeat-interval', '0', '--partial-tile-delay', '0',
      // Positions confirmed every 0.1 s: a resumed client repeats at most a short tail.
      '--durable-ping-interval', '0.1',
      // No plain client may be dropped for being slow during a catch-up burst on a loaded machine.
      '--client-buffer-bytes', String(2 ** 30), '--slow-client-timeout', '3600'];
    if (o.logList !== undefined) args.push('--log-list', o.logList);
    if (o.stream !== undefined) args.push('--nats-stream', o.stream);
    args.push(...(o.extraArgs ?? []));
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' },
    });
    const node = new NatsNode(name, child, stateDir);
    try {
      const line = await node.waitLine(`${name} to log "listening"`, timeoutMs, (l) => l.msg === 'listening' && typeof l.port === 'number');
      node.port = line.port!;
    } catch (err) {
      await node.stop();
      throw err;
    }
    return node;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  get http(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  ws(path: string): string {
    return `ws://127.0.0.1:${this.port}${path}`;
  }

  /** Resolves with the first log line (from the start) matching `match`; rejects after `ms` or when the node exits. */
  waitLine(what: string, ms: number, match: (l: LogLine) => boolean, from = 0): Promise<LogLine> {
    return new Promise((resolve, reject) => {
      let done = false;
      const finish = (err: Error | undefined, line?: LogLine) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(line!);
      };
      const timer = setTimeout(() => finish(new Error(`timed out after ${ms} ms waiting for ${what}${this.tail()}`)), ms);
      void this.exited.then((how) => finish(new Error(`${this.name} exited (${how}) while waiting for ${what}${this.tail()}`)));
      const check = () => {
        if (done) return;
        const hit = this.lines.slice(from).find(match);
        if (hit) finish(undefined, hit);
        else this.lineWaiters.push(check);
      };
      check();
    });
  }

  /** GET a JSON endpoint (bounded by a 5 s timeout). */
  async getJson<T>(path: string): Promise<{ status: number; body: T }> {
    const res = await fetch(`${this.http}${path}`, { signal: AbortSignal.timeout(5000) });
    return { status: res.status, body: (await res.json()) as T };
  }

  /** Sum of every sample of a metric on /metrics whose labels contain `labels` (e.g. `result="stored"`). */
  async metric(name: string, labels = ''): Promise<number> {
    const res = await fetch(`${this.http}/metrics`, { signal: AbortSignal.timeout(5000) });
    const text = await res.text();
    let sum = 0;
    for (const line of text.split('\n')) {
      if (!line.startsWith(name)) continue;
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
      if (!m || m[1] !== name || !(m[2] ?? '').includes(labels)) continue;
      sum += Number(m[3]);
    }
    return sum;
  }

  /** kill -9; resolves once the process is gone. */
  async kill(): Promise<void> {
    if (this.alive) this.child.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM (SIGKILL after 15 s); resolves with how it ended. Removes its state directory. */
  async stop(): Promise<NodeJS.Signals | number | null> {
    if (this.alive) this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    const how = await this.exited;
    clearTimeout(t);
    await rm(this.stateDir, { recursive: true, force: true });
    return how;
  }

  /** The end of its stderr and the last log lines, for failure messages. */
  tail(): string {
    const last = this.lines.slice(-8).map((l) => JSON.stringify(l)).join('\n  ');
    return `\n[${this.name}] last log lines:\n  ${last}\n[${this.name}] stderr: ${this.stderr.slice(-1500)}`;
  }
}

/**
 * The nodes one test started; `stopAll()` in a finally ends them whatever happened, including nodes whose
 * start was still under way when the test failed.
 */
export class NodeSet {
  private readonly starts: Promise<NatsNode>[] = [];

  start(name: string, o: NodeOptions): Promise<NatsNode> {
    const p = NatsNode.start(name, o);
    this.starts.push(p);
    return p;
  }

  async stopAll(): Promise<void> {
    const settled = await Promise.allSettled(this.starts.splice(0));
    await Promise.all(settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value.stop()] : [])));
  }
}
