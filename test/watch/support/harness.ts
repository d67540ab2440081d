/**
 * What the certstream-watch end-to-end tests share: the real daemon and the real watcher, each spawned
 * from its CLI entry point; a reference client that records every certificate the daemon streams; a
 * webhook receiver whose failures the test controls; and the expected matches of the test's watch
 * list, computed with predicates independent of the matcher.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { WebSocket } from 'ws';
import { parseCertFrame, type CertEntry } from '../../../src/watch/cert-frame.js';
import { openStore, parseDbUrl, type StoredMatch } from '../../../src/watch/store.js';
export { freePort } from '../../support/free-port.js';

const ROOT = join(import.meta.dirname, '../../..');
const ENV = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' };

/** A spawned process with its JSON log lines. */
export interface Proc {
  child: ChildProcess;
  exited: Promise<NodeJS.Signals | number | null>;
  stderr: () => string;
  /** Every JSON log line so far. */
  logs: () => Record<string, unknown>[];
  /** Everything written to stdout so far. */
  stdout: () => string;
  /** Resolves with the first log line whose `msg` is `msg` (rejects if the process exits first or after `ms`). */
  line(msg: string, ms?: number): Promise<Record<string, unknown>>;
}

function spawnProc(entry: string, args: string[]): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, entry), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: ENV });
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.once('exit', (code, sig) => resolve(sig ?? code)));
  let err = '';
  let out = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const lines: Record<string, unknown>[] = [];
  const waiters: { msg: string; resolve: (r: Record<string, unknown>) => void }[] = [];
  createInterface({ input: child.stdout! }).on('line', (l) => {
    let rec: Record<string, unknown>;
    try {
      rec = JSON.parse(l) as Record<string, unknown>;
    } catch {
      return;
    }
    lines.push(rec);
    for (const w of waiters.splice(0)) {
      if (rec.msg === w.msg) w.resolve(rec);
      else waiters.push(w);
    }
  });
  return {
    child,
    exited,
    stderr: () => err,
    logs: () => lines,
    stdout: () => out,
    line(msg, ms = 60_000) {
      const have = lines.find((r) => r.msg === msg);
      if (have) return Promise.resolve(have);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no '${msg}' line within ${ms} ms; stderr: ${err}`)), ms);
        void exited.then((c) => {
          clearTimeout(timer);
          reject(new Error(`${entry} exited (${c}) before '${msg}'; stderr: ${err}`));
        });
        waiters.push({ msg, resolve: (r) => (clearTimeout(timer), resolve(r)) });
      });
    },
  };
}

/** The real daemon on a free port, following the fake log list; resolves once it listens. */
export async function startDaemon(logList: string, stateDir: string, port = 0): Promise<{ proc: Proc; port: number }> {
  const proc = spawnProc('src/cli/certstream-server.ts', [
    '--host', '127.0.0.1', '--port', String(port), '--log-list', logList, '--state-dir', stateDir, '--poll-interval', '0.05',
    '--heartbeat-interval', '0', '--partial-tile-delay', '0', '--client-buffer-bytes', String(2 ** 30), '--slow-client-timeout', '3600',
  ]);
  const rec = await proc.line('listening');
  return { proc, port: rec.port as number };
}


/** The real watcher (`certstream-watch run`). */
export function startWatcher(args: string[]): Proc {
  return spawnProc('src/cli/certstream-watch.ts', ['run', ...args]);
}

/** Records every certificate the daemon streams on `/` (a plain client with a huge budget). */
export class ReferenceClient {
  readonly entries: CertEntry[] = [];
  readonly ws: WebSocket;
  constructor(port: number) {
    this.ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    this.ws.on('message', (d) => {
      const c = parseCertFrame(String(d));
      if (c) this.entries.push(c);
    });
  }
  opened(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
  }
  close(): void {
    this.ws.terminate();
  }
}

/** The test's watch list and, for each rule, an independent predicate on a normalised name. */
export const WATCH_LIST = '# end-to-end test\n~login-\nsynthetic-2.example\n/^pay-[0-9]+\\./\n';
const PREDICATES: [string, (n: string) => boolean][] = [
  ['~login-', (n) => n.includes('login-')],
  ['synthetic-2.example', (n) => n === 'synthetic-2.example' || n.endsWith('.synthetic-2.example')],
  ['/^pay-[0-9]+\\./', (n) => /^pay-[0-9]+\./.test(n)],
];

/** Identity of a stored match. */
export const rowKey = (m: { log: string; certIndex: number; domain: string; rule: string }) => `${m.log}#${m.certIndex}#${m.domain}#${m.rule}`;
/** Alert identity: the same certificate (serial, issuer) under the same name and rule. */
export const alertKey = (m: { serial: string; issuer: string; domain: string; rule: string }) => `${m.serial}|${m.issuer}|${m.domain}|${m.rule}`;

/** The matches the watch list must produce for `entries`: row keys and alert keys. */
export function expectedMatches(entries: readonly CertEntry[]): { rows: Set<string>; alerts: Set<string> } {
  const rows = new Set<string>();
  const alerts = new Set<string>();
  for (const e of entries) {
    for (const raw of e.domains) {
      const n = raw.toLowerCase().replace(/^\*\./, '');
      for (const [rule, p] of PREDICATES) {
        if (!p(n)) continue;
        rows.add(rowKey({ log: e.log, certIndex: e.index, domain: n, rule }));
        alerts.add(alertKey({ serial: e.serial, issuer: e.issuer, domain: n, rule }));
      }
    }
  }
  return { rows, alerts };
}

/** Every stored match of a database. */
export async function storedMatches(dbUrl: string): Promise<StoredMatch[]> {
  const store = await openStore(parseDbUrl(dbUrl));
  try {
    const out: StoredMatch[] = [];
    for (let after = 0; ; ) {
      const page = await store.exportPage(undefined, after, 1000);
      if (page.length === 0) return out;
      out.push(...page);
      after = page[page.length - 1].id;
    }
  } finally {
    await store.close();
  }
}

/** Polls `cond` every 100 ms until it holds; fails after `ms` with `what`. */
export async function until(what: () => string | Promise<string>, cond: () => Promise<boolean> | boolean, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting: ${await what()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A webhook receiver: `fail(n)` decides per request whether to answer 500; only 2xx bodies count as received. */
export class WebhookSink {
  readonly received: Record<string, unknown>[] = [];
  requests = 0;
  failures = 0;
  fail: (n: number) => boolean = () => false;
  private server!: Server;
  url = '';
  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        const n = ++this.requests;
        if (this.fail(n)) {
          this.failures++;
          res.writeHead(500).end('down');
          return;
        }
        this.received.push({ ...(JSON.parse(body) as Record<string, unknown>), idempotency_key: req.headers['idempotency-key'] });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }
  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
