/**
 * The certstream-server daemon, composed: config → metrics → the serving mode (local files, or NATS with
 * its roles; src/server/serving-mode.ts) → fan-out hub → HTTP/WebSocket listener → the mode's window
 * and positions → Ingest (whose sink, stream/ingest-sink.ts, renders each entry once and publishes the
 * frames where the mode says) → systemd notify. Everything opened pushes its closer on one stack, which
 * a stop, or a start that fails half-way, runs to the end (src/server/closer-stack.ts).
 *
 * `startServer` validates nothing itself (the config is already validated) and never exits the process:
 * errors are thrown (CONFIG_ERR_LOG_LIST from the log list, STATE_ERR_* from the cursor file, listen
 * errors) and mapped to exit codes by src/cli/certstream-server.ts. `close()` rejects with the first
 * STATE_ERR_* failure (a cursor or positions file not saved) once everything is closed, so the unit sees
 * a failed stop.
 */
import type { AddressInfo } from 'node:net';
import type { Server as TlsServer } from 'node:tls';
import { AccessControl } from './access/access-control.js';
import { loadTlsPair, reloadTlsPair } from './access/tls-files.js';
import type { ServerConfig } from './config/server-config.js';
import { Ingest, type IngestOptions } from './ct/ingest.js';
import type { LogStatus } from './ct/types.js';
import { isCertstreamError } from './errors.js';
import { createListener, type ConnectionGuardOptions } from './http/connection-guard.js';
import type { HealthzBody } from './http/healthz.js';
import { createRequestHandler, createUpgradeHandler, refuseStreamUpgrade } from './http/routes.js';
import { createLogger, type Logger } from './log/logger.js';
import { createServerMetrics, type ServerMetrics } from './metrics/server-metrics.js';
import { Renderer } from './render/renderer.js';
import { CloserStack } from './server/closer-stack.js';
import { DashboardStatus } from './server/dashboard-status.js';
import { listen, shownUrl } from './server/listen.js';
import { startMemoryRelease } from './server/memory-release.js';
import { ServerHealth } from './server/server-health.js';
import { chooseServingMode, type Publish } from './server/serving-mode.js';
import { FanoutHub } from './stream/fanout-hub.js';
import { IngestSink } from './stream/ingest-sink.js';
import { RecentSample } from './stream/recent-sample.js';
import { streamForPath } from './stream/stream-paths.js';
import { VerifiedCoverage } from './stream/verified-coverage.js';
import { SystemdNotifier } from './systemd/notify.js';
import { VERSION } from './version.js';

export interface ServerHandle {
  readonly port: number;
  /** `http://host:port` (127.0.0.1 when bound to every address). */
  readonly url: string;
  /** The fan-out hub (stats, tests). */
  readonly hub: FanoutHub;
  /** The `/healthz` body now. */
  health(): HealthzBody;
  /** SIGHUP: re-reads the tokens file and the TLS pair; a bad one is logged and the old one stays. */
  reload(): void;
  /**
   * Stops polling, flushes the cursor file, closes every client with 1001 and the listener. Idempotent.
   * Rejects (STATE_ERR_IO) once everything is closed when the final cursor flush failed.
   */
  close(): Promise<void>;
}

export interface ServerDeps {
  logger?: Logger;
  metrics?: ServerMetrics;
  /** Environment for systemd notification (default process.env). */
  env?: Record<string, string | undefined>;
  /** Ingest tuning that has no flag (tests, benchmark, demo): partial tile delay, cursor flush period… */
  ingest?: Partial<Pick<IngestOptions, 'partialTileDelayMs' | 'cursorFlushMs' | 'refreshIntervalMs' | 'requestTimeoutMs' | 'windows' | 'backoff'>>;
  /** Listener bounds that have no flag (tests): how long a connection may take to send its first request… */
  connections?: Partial<Pick<ConnectionGuardOptions, 'firstRequestTimeoutMs' | 'headersTimeoutMs' | 'requestTimeoutMs'>>;
}

/** Starts the daemon; resolves once the listener is bound and the followers are running. */
export async function startServer(config: ServerConfig, deps: ServerDeps = {}): Promise<ServerHandle> {
  const logger = deps.logger ?? createLogger({ level: config.logLevel });
  const metrics = deps.metrics ?? createServerMetrics();
  const closers = new CloserStack(logger);
  closers.push('memory release stop', startMemoryRelease({ intervalMs: config.memoryReleaseIntervalMs, metrics, logger }));
  // Read before anything opens: a bad tokens file, allow-list or TLS pair is a configuration error (78).
  const access = new AccessControl({ tokensFile: config.tokens, allowFrom: config.allowFrom, protectMetrics: config.protectMetrics, metrics, logger: logger.child({ component: 'access' }) });
  const tls = config.tlsCert === '' ? undefined : loadTlsPair(config.tlsCert, config.tlsKey);
  // verified=1: fed by this process's verification, or with --nats (edge and all) by the ingest nodes'
  // verification saved with their cursors (nats/kv-coverage.ts), the one source for every edge alike.
  const coverage = new VerifiedCoverage();
  const local = config.nats === '';
  const mode = await chooseServingMode(config, metrics, logger, coverage);
  const hub = new FanoutHub({
    coverage,
    metrics,
    logger: logger.child({ component: 'hub' }),
    clientBufferBytes: config.clientBufferBytes,
    clientsMemoryBytes: config.clientsMemoryBytes,
    slowClientTimeoutMs: config.slowClientTimeoutMs,
    pingIntervalMs: config.pingIntervalMs,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    perMessageDeflate: config.perMessageDeflate,
    maxPayloadBytes: config.maxPayloadBytes,
    // Opened after the listener is bound (mode.attach): until then `?id=` and `?since=` get a 503.
    durable: config.replayWindowMs > 0 && mode.serves ? 'later' : undefined,
  });
  // What reaches the hub is also offered to the dashboard's sample.
  const sample = new RecentSample();
  const publish: Publish = (frames) => {
    hub.publish(frames);
    sample.offer(frames, Date.now());
  };
  // The ingest's entries go where the mode says, once the ingest is open (the sink's only caller).
  let target: Publish = publish;
  const sink = new IngestSink({ renderer: new Renderer(), hub: { publish: (frames) => target(frames) }, metrics, logger: logger.child({ component: 'sink' }) });
  const health = new ServerHealth(config, hub, sink, mode);
  const dashboard = new DashboardStatus(health, sample, metrics, closers);

  // Bound before anything in the state directory is touched (the window's opening may cut a torn tail,
  // Ingest.open loads the cursor file): a port in use or a bad --host fails with the directory as it was.
  const server = createListener(createRequestHandler({ recent: () => hub.recent, health: () => health.body(), status: (after) => dashboard.body(after), registry: metrics.registry, logger, admit: (req, res, path) => access.admitRequest(req, res, path) }), {
    ...deps.connections,
    tls,
    acceptSocket: (socket) => access.acceptSocket(socket),
    maxConnections: config.maxConnections,
    registry: metrics.registry,
    logger: logger.child({ component: 'http' }),
  });
  server.on('upgrade', createUpgradeHandler((req, socket, head) => {
    if (streamForPath(req.url) === undefined) return false;
    // Refused (401/429): access control has answered.
    if (!access.admitUpgrade(req, socket)) return true;
    return mode.serves ? hub.handleUpgrade(req, socket, head) : refuseStreamUpgrade(socket);
  }));
  closers.push('listener close', () => Promise.all([hub.close(), new Promise((resolve) => (server.close(resolve), server.closeAllConnections()))]));
  const notifier = new SystemdNotifier({
    logger,
    env: deps.env,
    healthy: () => health.healthy(),
    status: () => statusLine(health.ingest?.statuses() ?? [], hub.clientCount, hub.stats().published),
  });
  try {
    await listen(server, config.host, config.port);
    await mode.attach(hub, publish, closers);
    // Up to 1.5 s to deliver what was published (durable clients up to the window's head), then up to
    // 1.5 s for the close handshake: within the 5 s shutdown budget; before the window closes.
    closers.push('clients close', () => hub.close(1001, 'server shutting down', 1500));
    const port = (server.address() as AddressInfo).port;
    const url = shownUrl(config.host, port, tls !== undefined);
    const listening = { host: config.host, port, url, version: VERSION, ...mode.describe() };
    if (mode.readyOnListen) {
      logger.info('listening', listening);
      void notifier.ready();
    }
    const side = mode.follows ? await mode.ingestSide(hub, publish) : undefined;
    if (side) target = side.publish;
    const ingest = side && await Ingest.open({
      partialTileDelayMs: config.partialTileDelayMs,
      refreshIntervalMs: config.logListRefreshMs,
      resetState: config.resetState,
      verify: config.verify,
      ...deps.ingest,
      beforeCursorWrite: side.beforeCursorWrite,
      cursors: side.cursors,
      deliveryGate: side.deliveryGate,
      allowEmpty: config.allowEmpty,
      logList: config.logList,
      logsInclude: config.logsInclude,
      logsExclude: config.logsExclude,
      stateDir: config.stateDir,
      backfill: config.backfill,
      pollIntervalMs: config.pollIntervalMs,
      userAgent: config.userAgent,
      metrics,
      logger: logger.child({ component: 'ingest' }),
      sink: sink.accept,
      announceVerification: local ? (log, size, state, stopped) => coverage.update(log, size, state, stopped) : undefined,
    });
    if (ingest) {
      closers.push('ingest stop', () => ingest.stop());
      health.ingest = ingest;
      dashboard.record();
      if (!mode.readyOnListen) logger.info('listening', { ...listening, logs: ingest.followed.length });
      if (ingest.followed.length === 0) logger.warn('no log to follow (--allow-empty): streaming nothing until the log list changes', { log_list: config.logList });
      ingest.start();
      // A NATS edge never is: a log its bucket does not name yet is held, not skipped (nats/kv-coverage.ts).
      if (local) coverage.markReady();
      if (!config.verify) logger.warn('--verify false: nothing is verified, so verified=1 clients receive no entries');
      health.ingesting = true;
    }
    if (!mode.readyOnListen) void notifier.ready();
    let closing: Promise<void> | undefined;
    const close = (): Promise<void> => (closing ??= stop(closers, health, notifier, logger));
    const reload = (): void => {
      access.reload();
      if (tls) reloadTlsPair(server as unknown as TlsServer, config.tlsCert, config.tlsKey, logger);
    };
    return { port, url, hub, health: () => health.body(), reload, close };
  } catch (err) {
    await closers.closeAll();
    throw err;
  }
}

/** Runs every closer (ingest, clients, window, NATS, listener); rejects with the first state failure. */
async function stop(closers: CloserStack, health: ServerHealth, notifier: SystemdNotifier, logger: Logger): Promise<void> {
  health.ingesting = false;
  logger.info('shutting down');
  const stoppingNotice = notifier.stopping();
  const failures = await closers.closeAll();
  await stoppingNotice;
  // The final flushes are what a restart resumes from: if one failed, the stop did not succeed.
  const unsaved = failures.find((f) => isCertstreamError(f.error, 'STATE_ERR_IO'));
  if (unsaved) throw unsaved.error;
  logger.info('stopped');
}

/** The systemd STATUS= line: logs, clients, lag. */
export function statusLine(logs: readonly LogStatus[], clients: number, certificates: number): string {
  const polled = logs.filter((l) => l.last_success !== null).length;
  const lag = logs.reduce((sum, l) => sum + l.lag, 0);
  return `${polled}/${logs.length} logs polled, ${clients} clients, total lag ${lag}, ${certificates} certificates streamed`;
}
