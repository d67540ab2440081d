/**
 * systemd readiness, status and watchdog for a Type=notify unit (systemd.md).
 *
 * Node cannot write AF_UNIX datagrams, so each message is sent by spawning `systemd-notify` (since
 * systemd 246 it waits until the manager processed the message; the unit needs NotifyAccess=all).
 * With NOTIFY_SOCKET unset nothing is spawned at all.
 *
 * WATCHDOG=1 goes out every WATCHDOG_USEC/2 only while the daemon is healthy: the event loop is
 * responsive (the tick did not fire late by more than half a period) and `healthy()` says the logs
 * were polled recently. A wedged or blind daemon thus stops petting the watchdog and gets restarted.
 */
import { spawn } from 'node:child_process';
import type { Logger } from '../log/logger.js';

/** Sends one notification: runs `systemd-notify ARGS…`, resolves when it exited. */
export type NotifySender = (args: readonly string[]) => Promise<void>;

export interface SystemdNotifierOptions {
  logger: Logger;
  /** The environment (NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID); default process.env. */
  env?: Record<string, string | undefined>;
  /** Whether the daemon is doing its job (e.g. at least one log polled recently). */
  healthy: () => boolean;
  /** The STATUS= text (logs, clients, lag). */
  status: () => string;
  /** How often STATUS= is refreshed when there is no watchdog, ms (default 30_000). */
  statusIntervalMs?: number;
  /** Default: spawn `systemd-notify` from PATH. */
  send?: NotifySender;
  /** Clock, ms (tests). */
  now?: () => number;
}

export class SystemdNotifier {
  /** False when NOTIFY_SOCKET is unset: every method does nothing. */
  readonly enabled: boolean;
  /** Watchdog period from WATCHDOG_USEC / 2, ms; undefined without a watchdog. */
  readonly watchdogIntervalMs: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private inFlight = false;
  private readonly send: NotifySender;
  private readonly now: () => number;

  constructor(private readonly options: SystemdNotifierOptions) {
    const env = options.env ?? process.env;
    this.enabled = Boolean(env.NOTIFY_SOCKET);
    this.now = options.now ?? Date.now;
    this.send = options.send ?? spawnSystemdNotify;
    const usec = Number(env.WATCHDOG_USEC);
    const pidMatches = env.WATCHDOG_PID === undefined || Number(env.WATCHDOG_PID) === process.pid;
    this.watchdogIntervalMs = this.enabled && Number.isFinite(usec) && usec > 0 && pidMatches ? Math.max(1, usec / 2000) : undefined;
  }

  /** READY=1 (call after the listener is bound) with a first STATUS=, then starts the periodic messages. */
  async ready(): Promise<void> {
    if (!this.enabled) return;
    await this.deliver(['--ready', `--pid=${process.pid}`, `--status=${this.options.status()}`]);
    this.startTimer();
  }

  /** STOPPING=1 and stops the periodic messages. */
  async stopping(): Promise<void> {
    this.stop();
    if (!this.enabled) return;
    await this.deliver(['STOPPING=1', '--status=shutting down']);
  }

  /** Stops the periodic messages. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private startTimer(): void {
    const period = this.watchdogIntervalMs ?? this.options.statusIntervalMs ?? 30_000;
    let expected = this.now() + period;
    this.timer = setInterval(() => {
      const late = this.now() - expected;
      expected = this.now() + period;
      // A tick more than half a period late means the event loop was blocked: no WATCHDOG=1 then.
      const responsive = late <= period / 2;
      void this.tick(responsive);
    }, period);
    this.timer.unref();
  }

  private async tick(responsive: boolean): Promise<void> {
    if (this.inFlight) return; // the previous systemd-notify has not finished: skip rather than pile up
    const status = this.options.status();
    const args: string[] = [];
    if (this.watchdogIntervalMs !== undefined && responsive && this.options.healthy()) args.push('WATCHDOG=1');
    args.push(`--status=${status}`);
    await this.deliver(args);
  }

  private async deliver(args: readonly string[]): Promise<void> {
    this.inFlight = true;
    try {
      await this.send(args);
    } catch (err) {
      this.options.logger.warn('systemd-notify failed', { args: args.join(' '), err });
    } finally {
      this.inFlight = false;
    }
  }
}

/** Runs `systemd-notify ARGS…`; rejects when it cannot be started or exits non-zero (10 s timeout). */
export function spawnSystemdNotify(args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('systemd-notify', [...args], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`systemd-notify exited with ${code ?? signal}: ${stderr.trim()}`));
    });
  });
}
