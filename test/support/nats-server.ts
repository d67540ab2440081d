/**
 * A real nats-server (Debian's package, 2.9.x) with JetStream, started by a test on a free port with its
 * store in a temp directory. `stop()` and `start()` again keep the port and the store, so a test can take
 * NATS away and bring it back with the stream intact; `kill()` is SIGKILL.
 *
 * Tests that need it skip with a reason when the binary is missing (`.ci/run` installs it).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';

/** Path of nats-server, or undefined when it is not installed. */
export function natsServerBinary(): string | undefined {
  for (const candidate of ['/usr/sbin/nats-server', '/usr/bin/nats-server']) {
    if (spawnSync(candidate, ['--version']).status === 0) return candidate;
  }
  const which = spawnSync('sh', ['-c', 'command -v nats-server'], { encoding: 'utf8' });
  return which.status === 0 ? which.stdout.trim() : undefined;
}

/** Skip reason for node:test when nats-server is missing, else false. */
export function natsSkip(): string | false {
  return natsServerBinary() === undefined ? 'nats-server is not installed (apt-get install nats-server; .ci/run does)' : false;
}


function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

export class NatsServer {
  private child: ChildProcess | undefined;
  private output = '';

  private constructor(
    readonly port: number,
    readonly storeDir: string,
    private readonly binary: string,
  ) {}

  /** `nats://127.0.0.1:PORT` */
  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** Starts a fresh server (new temp store, free port). */
  static async start(): Promise<NatsServer> {
    const binary = natsServerBinary();
    if (binary === undefined) throw new Error('nats-server is not installed');
    const server = new NatsServer(await freePort(), mkdtempSync(join(tmpdir(), 'nats-js-')), binary);
    await server.start();
    return server;
  }

  /** (Re)starts the server on its port and store; resolves once it accepts connections. */
  async start(): Promise<void> {
    if (this.child) throw new Error('nats-server already running');
    const child = spawn(this.binary, ['-js', '-sd', this.storeDir, '-a', '127.0.0.1', '-p', String(this.port)], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (this.output += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.output += d));
    const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`nats-server exited with ${code}: ${this.output.slice(-2000)}`))));
    exited.catch(() => undefined);
    const deadline = Date.now() + 20_000;
    for (;;) {
      // JetStream is ready once the server logs it (the port opens a little earlier).
      if (this.output.includes('Server is ready') && (await canConnect(this.port))) break;
      if (Date.now() > deadline) throw new Error(`nats-server did not become ready in 20 s: ${this.output.slice(-2000)}`);
      await Promise.race([new Promise((resolve) => setTimeout(resolve, 20)), exited]);
    }
    child.removeAllListeners('exit');
  }

  /** Stops the server (SIGTERM, SIGKILL after 10 s); the store stays. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(t);
  }

  /** SIGKILL. */
  kill(): Promise<void> {
    return this.stop('SIGKILL');
  }

  /** Stops the server and removes its store. */
  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.storeDir, { recursive: true, force: true });
  }

  /** What the server printed (for failure messages). */
  get log(): string {
    return this.output;
  }
}
