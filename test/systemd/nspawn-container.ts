/**
 * A real systemd (Debian bookworm, systemd 252) booted with systemd-nspawn for the end-to-end test of
 * the units, driven from the host: the container boots with a small command agent (e2e-agent.mjs) as a
 * service, and `run()` executes shell commands inside it over the shared loopback. The tree is mounted
 * with --volatile=overlay, so the cached debootstrap tree stays pristine and every boot starts clean.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, watch, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** One bind mount into the container. */
export interface Bind {
  host: string;
  container: string;
  readOnly?: boolean;
}

/** Result of one command run inside the container. */
export interface RunResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** Why the e2e cannot run here, or undefined when it can (root, systemd-nspawn, debootstrap). */
export function nspawnUnavailableReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'not running as root';
  for (const tool of ['systemd-nspawn', 'debootstrap']) {
    const r = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
    if (r.status !== 0) return `${tool} is not installed (apt-get install systemd-container debootstrap)`;
  }
  return undefined;
}

/** Builds or reuses the cached bookworm tree (test/systemd/build-rootfs.sh); returns its path. */
export function ensureRootfs(): string {
  const r = spawnSync('bash', [resolve('test/systemd/build-rootfs.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`build-rootfs.sh failed with ${r.status}`);
  return r.stdout.trim().split('\n').pop() ?? '';
}

/** nspawn refuses to start without a tmpfs on /run/systemd/nspawn when the host runs no systemd. */
function ensureNspawnRunDir(): void {
  if (existsSync('/run/systemd/system')) return; // systemd is PID 1 here: it manages that directory
  const mounted = spawnSync('mountpoint', ['-q', '/run/systemd/nspawn']).status === 0;
  if (mounted) return;
  mkdirSync('/run/systemd/nspawn', { recursive: true });
  const r = spawnSync('mount', ['-t', 'tmpfs', 'tmpfs', '/run/systemd/nspawn'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mount tmpfs on /run/systemd/nspawn: ${r.stderr}`);
}

export class NspawnContainer {
  private consoleText = '';
  private agentPort = 0;

  private constructor(
    private readonly child: ChildProcess,
    private readonly token: string,
    private readonly exited: Promise<number | null>,
  ) {
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (this.consoleText += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (this.consoleText += d));
  }

  /**
   * Boots the tree and waits for the agent.
   * @param rootfs the debootstrap tree
   * @param workDir an empty host directory for the agent's control files
   * @param binds extra bind mounts
   * @param bootTimeoutMs how long the boot may take until the agent answers
   * @param lifetimeSeconds hard bound of the whole container run (nspawn is killed after it)
   */
  static async boot(rootfs: string, workDir: string, binds: Bind[], bootTimeoutMs = 60_000, lifetimeSeconds = 280): Promise<NspawnContainer> {
    ensureNspawnRunDir();
    const ctl = join(workDir, 'ctl');
    mkdirSync(ctl, { recursive: true });
    const token = randomBytes(16).toString('hex');
    writeFileSync(join(ctl, 'token'), token, { mode: 0o600 });
    const agentUnit = join(workDir, 'e2e-agent.service');
    writeFileSync(agentUnit, '[Unit]\nDescription=certstream e2e command agent\n[Service]\nExecStart=/usr/bin/node /e2e-agent.mjs /ctl\n');
    const all: Bind[] = [
      { host: process.execPath, container: '/usr/bin/node', readOnly: true },
      { host: ctl, container: '/ctl' },
      { host: resolve('test/systemd/e2e-agent.mjs'), container: '/e2e-agent.mjs', readOnly: true },
      { host: agentUnit, container: '/etc/systemd/system/e2e-agent.service', readOnly: true },
      ...binds,
    ];
    const args = [
      String(lifetimeSeconds),
      'systemd-nspawn',
      '--register=no',
      '--keep-unit',
      '-q',
      '-D',
      rootfs,
      '--volatile=overlay',
      ...all.map((b) => `--bind${b.readOnly === true ? '-ro' : ''}=${b.host}:${b.container}`),
      '-b',
      'systemd.wants=e2e-agent.service',
    ];
    const child = spawn('timeout', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((res) => child.on('close', (code) => res(code)));
    const container = new NspawnContainer(child, token, exited);
    container.agentPort = await new Promise<number>((res, rej) => {
      const file = join(ctl, 'agent.json');
      const done = (): boolean => {
        if (!existsSync(file)) return false;
        clearTimeout(timer);
        watcher.close();
        res((JSON.parse(readFileSync(file, 'utf8')) as { port: number }).port);
        return true;
      };
      const watcher = watch(ctl, () => done());
      const timer = setTimeout(() => {
        watcher.close();
        rej(new Error(`container agent did not start within ${bootTimeoutMs} ms; console:\n${container.consoleText}`));
      }, bootTimeoutMs);
      void exited.then((code) => {
        if (done()) return;
        clearTimeout(timer);
        watcher.close();
        rej(new Error(`systemd-nspawn exited with ${code} before the agent started; console:\n${container.consoleText}`));
      });
      done();
    });
    return container;
  }

  /** The container's console output so far (boot messages), for failure reports. */
  console(): string {
    return this.consoleText;
  }

  /** Runs `cmd` with bash inside the container as root. */
  async run(cmd: string, timeoutMs = 60_000): Promise<RunResult> {
    const res = await fetch(`http://127.0.0.1:${this.agentPort}/`, {
      method: 'POST',
      body: JSON.stringify({ token: this.token, cmd, timeoutMs }),
      signal: AbortSignal.timeout(timeoutMs + 5_000),
    });
    if (res.status !== 200) throw new Error(`agent answered HTTP ${res.status} to ${cmd}`);
    return (await res.json()) as RunResult;
  }

  /** Runs `cmd` and returns its stdout; throws with the output when it exits non-zero. */
  async sh(cmd: string, timeoutMs = 60_000): Promise<string> {
    const r = await this.run(cmd, timeoutMs);
    if (r.code !== 0) throw new Error(`in container: \`${cmd}\` exited ${r.code ?? r.signal}\n${r.stdout}${r.stderr}`);
    return r.stdout;
  }

  /** `systemctl show -p ... UNIT` as a record. */
  async show(unit: string, ...props: string[]): Promise<Record<string, string>> {
    const out = await this.sh(`systemctl show ${props.map((p) => `-p ${p}`).join(' ')} ${unit}`);
    const rec: Record<string, string> = {};
    for (const line of out.split('\n')) {
      const i = line.indexOf('=');
      if (i > 0) rec[line.slice(0, i)] = line.slice(i + 1);
    }
    return rec;
  }

  /** Powers the container off and waits for nspawn to exit; returns nspawn's exit code. */
  async poweroff(): Promise<number | null> {
    if (this.child.exitCode === null) {
      await this.run('systemctl poweroff --no-block').catch(() => undefined);
    }
    const code = await Promise.race([this.exited, new Promise<'late'>((r) => setTimeout(() => r('late'), 30_000).unref())]);
    if (code === 'late') {
      this.child.kill('SIGKILL');
      return this.exited;
    }
    return code;
  }
}

/** Polls an async condition (state inside a container has no event to wait on); fails after timeoutMs. */
export async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Runs the named steps of a long container test: a failure names its step, a success is a diagnostic
 * line with its duration (what went slow in CI shows in the log).
 */
export function stepper(t: { diagnostic(message: string): void }): (name: string, fn: () => Promise<void>) => Promise<void> {
  return async (name, fn) => {
    const started = Date.now();
    try {
      await fn();
    } catch (err) {
      throw new Error(`step "${name}" failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    }
    t.diagnostic(`ok: ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  };
}
