/**
 * The certstream-server daemon, composed: config → metrics → Renderer → fan-out hub → Ingest (whose
 * sink, stream/ingest-sink.ts, renders each entry once and publishes the frames) → HTTP/WebSocket
 * listener → systemd notify. `/healthz` joins the followers' statuses, the sink's skip counts and
 * the cursor file's flush state.
 *
 * `startServer` validates nothing itself (the config is already validated) and never exits the process:
 * errors are thrown (CONFIG_ERR_LOG_LIST from the log list, STATE_ERR_* from the cursor file, listen
 * errors) and mapped to exit codes by src/cli/certstream-server.ts. `close()` rejects with STATE_ERR_IO
 * when the final cursor flush failed (after closing everything), so the unit sees a failed stop.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Ingest, type IngestOptions } from './ct/ingest.js';
import { IngestRates } from './ct/ingest-rates.js';
import type { LogStatus } from './ct/types.js';
import { CertstreamError, describeError, isCertstreamError } from './errors.js';
import { buildHealthz, defaultStaleAfterMs, healthStatus, withRenderHealth, type HealthProblemSource, type HealthzBody, type HealthRules, type LogHealth } from './http/healthz.js';
import { createListener, type ConnectionGuardOptions } from './http/connection-guard.js';
import { buildStatus, type StatusBody } from './http/dashboard/status-json.js';
import { createRequestHandler, createUpgradeHandler } from './http/routes.js';
import { createLogger, type Logger } from './log/logger.js';
import { createServerMetrics, type ServerMetrics } from './metrics/server-metrics.js';
import type { ServerConfig } from './config/server-config.js';
import { Renderer } from './render/renderer.js';
import { NatsMode } from './nats/nats-mode.js';
import { LocalReplayWindow } from './replay/local-replay-window.js';
import { PositionStore } from './stream/durable-positions.js';
import { FanoutHub } from './stream/fanout-hub.js';
import { IngestSink } from './stream/ingest-sink.js';
import { RecentSample } from './stream/recent-sample.js';
import { streamForPath } from './stream/stream-paths.js';
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
  const startedAtMs = Date.now();
  const renderer = new Renderer();
  // With --nats the roles split the work: an ingest node serves no stream, an edge follows no log.
  const natsRole = config.nats === '' ? undefined : config.role;
  const follows = natsRole !== 'edge';
  const serves = natsRole !== 'ingest';
  const hub = new FanoutHub({
    metrics,
    logger: logger.child({ component: 'hub' }),
    clientBufferBytes: config.clientBufferBytes,
    slowClientTimeoutMs: config.slowClientTimeoutMs,
    pingIntervalMs: config.pingIntervalMs,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    perMessageDeflate: config.perMessageDeflate,
    maxPayloadBytes: config.maxPayloadBytes,
    // Opened after the listener is bound (below): until then `?id=` and `?since=` get a 503.
    durable: config.replayWindowMs > 0 && serves ? 'later' : undefined,
  });

  // The dashboard's sample sees every batch the hub is given.
  const sample = new RecentSample();
  const publish: Pick<FanoutHub, 'publish'> = {
    publish: (frames) => {
      hub.publish(frames);
      sample.offer(frames, Date.now());
    },
  };
  // Where rendered entries go: the hub, or with --nats the JetStream publisher (set once NATS is reached;
  // the ingest, the only caller, opens after that).
  let natsPublisher: Pick<FanoutHub, 'publish'> | undefined;
  const sinkTarget: Pick<FanoutHub, 'publish'> = { publish: (frames) => (natsPublisher ?? publish).publish(frames) };
  const sink = new IngestSink({ renderer, hub: sinkTarget, metrics, logger: logger.child({ component: 'sink' }) });
  let nats: NatsMode | undefined;

  // Bound before anything in the state directory is touched: the replay window's opening may cut a torn
  // tail, drop aged segments and create replay/, Ingest.open loads the cursor file (and with
  // --reset-state makes it be rewritten), so a port in use or a bad --host must fail first, with the
  // state directory exactly as it was. Until then /healthz shows no logs; systemd's READY=1 still waits
  // for the followers (below).
  let opened: Ingest | undefined = undefined;
  let ingesting = false;
  const rules = (): HealthRules => ({ nowMs: Date.now(), staleAfterMs: defaultStaleAfterMs(config.pollIntervalMs), maxLag: config.maxLag });
  // The pieces that can degrade the server besides its logs add their reasons here (window, NATS).
  const problemSources: HealthProblemSource[] = [];
  const logHealth = (): LogHealth[] => (opened?.statuses() ?? []).map((s) => withRenderHealth(s, sink.renderHealth(s.url)));
  const health = (): HealthzBody => {
    const stats = hub.stats();
    return buildHealthz({
      logs: logHealth(),
      // Not opened yet (the moments between bind and Ingest.open): nothing written, nothing failed.
      cursors: opened?.cursorFlushHealth() ?? { lastError: null, errors: 0 },
      ingesting,
      rules: rules(),
      startedAtMs,
      clients: stats.clients,
      certificates: stats.published,
      dropped: stats.dropped,
      version: VERSION,
      nats: nats?.health(),
      problems: problemSources.flatMap((source) => source()),
    });
  };

  // The dashboard's rates: every log's position once a second, entries/s over the last minute.
  const rates = new IngestRates();
  // (Sampled once the ingest is open, below: the listener is bound first.)
  const rateTimer = setInterval(() => opened && rates.record(Date.now(), opened.statuses()), 1000).unref();
  const status = async (after: number): Promise<StatusBody> => {
    const disconnects = await metrics.clientDisconnects.get();
    return buildStatus({
      health: health(),
      rules: rules(),
      rates: rates.snapshot(),
      slowClientCloses: disconnects.values.find((v) => v.labels.reason === 'slow')?.value ?? 0,
      recent: { sampled_per_second: sample.perSecond, last_seq: sample.lastSeq, unreadable: sample.unreadable, certificates: sample.since(after) },
    });
  };

  const server = createListener(createRequestHandler({ recent: () => hub.recent, health, status, registry: metrics.registry, logger }), {
    ...deps.connections,
    maxConnections: config.maxConnections,
    registry: metrics.registry,
    logger: logger.child({ component: 'http' }),
  });
  server.on(
    'upgrade',
    createUpgradeHandler((req, socket, head) => {
      if (!serves && streamForPath(req.url) !== undefined) {
        const body = 'this node is --role ingest: it serves no stream; connect to an edge\n';
        socket.end(`HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
        return true;
      }
      return hub.handleUpgrade(req, socket, head);
    }),
  );
  try {
    await listen(server, config.host, config.port);
  } catch (err) {
    clearInterval(rateTimer);
    await hub.close();
    throw listenError(err, config.host, config.port);
  }
  const closeListener = () => Promise.allSettled([hub.close(), new Promise((resolve) => (server.close(resolve), server.closeAllConnections()))]);
  // The replay window and the durable positions live in the state directory next to the cursors; the
  // window is synced before either file is written, so neither ever points past it.
  let window: LocalReplayWindow | undefined;
  let positions: PositionStore | undefined;
  const closeReplay = async () => {
    await positions?.close();
    await window?.close();
  };
  if (natsRole !== undefined) {
    nats = new NatsMode({
      servers: config.nats,
      role: natsRole,
      stream: config.natsStream,
      maxAgeMs: config.replayWindowMs,
      maxBytes: config.replayWindowBytes,
      replicas: config.natsReplicas,
      flushMs: Math.min(1000, config.durablePingIntervalMs),
      metrics,
      logger: logger.child({ component: 'nats' }),
    });
    problemSources.push(nats.problems.bind(nats));
    if (serves) nats.openEdge(hub, publish.publish, config.durablePingIntervalMs);
  } else if (config.replayWindowMs > 0) {
    try {
      const replay = LocalReplayWindow.open({
        stateDir: config.stateDir,
        windowSeconds: config.replayWindowMs / 1000,
        maxBytes: config.replayWindowBytes,
        logger: logger.child({ component: 'replay' }),
      });
      window = replay;
      positions = await PositionStore.open({
        stateDir: config.stateDir,
        // A confirmation only counts once saved: save at the pace pings confirm, at least once a second.
        flushMs: Math.min(1000, config.durablePingIntervalMs),
        beforeWrite: () => replay.sync(),
        onFlushError: (err) => logger.error('positions file flush failed', { error: describeError(err) }),
      });
      hub.attachDurable({ window, positions, pingIntervalMs: config.durablePingIntervalMs });
    } catch (err) {
      clearInterval(rateTimer);
      await closeListener();
      await closeReplay();
      throw err;
    }
  }
  const closeNats = async () => {
    await nats?.close();
  };
  const port = (server.address() as AddressInfo).port;
  const shownHost = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const url = `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}`;
  const notifier = new SystemdNotifier({
    logger,
    env: deps.env,
    healthy: () => (nats ? health().status : healthStatus(logHealth(), ingesting, rules())) !== 'down',
    status: () => statusLine(opened?.statuses() ?? [], hub.clientCount, hub.stats().published),
  });
  if (nats) {
    // A node of the scale-out mode is up once it listens: what NATS does is its health's business
    // (`degraded` while NATS is away), not a reason for systemd to fail and restart the start.
    logger.info('listening', { host: config.host, port, url, version: VERSION, role: nats.role, nats: config.nats, stream: config.natsStream });
    void notifier.ready();
  }
  // With NATS the ingest waits for it here (the listener is up, /healthz says what is missing): its
  // cursors are in the cluster's bucket and its entries go to the stream.
  const natsIngest = follows && nats ? await nats.openIngest() : undefined;
  if (natsIngest) natsPublisher = natsIngest.publisher;
  const ingest = !follows ? undefined : await Ingest.open({
    partialTileDelayMs: config.partialTileDelayMs,
    refreshIntervalMs: config.logListRefreshMs,
    resetState: config.resetState,
    ...deps.ingest,
    beforeCursorWrite: window ? window.sync.bind(window) : undefined,
    cursors: natsIngest?.cursors,
    deliveryGate: natsIngest ? () => natsIngest.publisher.room() : () => hub.roomForIngest(),
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
  }).catch(async (err: unknown) => {
    clearInterval(rateTimer);
    await closeListener();
    await closeReplay();
    await closeNats();
    throw err;
  });
  opened = ingest;
  if (ingest) rates.record(Date.now(), ingest.statuses());

  if (!nats) logger.info('listening', { host: config.host, port, url, version: VERSION, logs: ingest?.followed.length ?? 0 });
  if (ingest && ingest.followed.length === 0) logger.warn('no log to follow (--allow-empty): streaming nothing until the log list changes', { log_list: config.logList });

  ingest?.start();
  ingesting = true;

  if (!nats) void notifier.ready();

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      ingesting = false;
      clearInterval(rateTimer);
      logger.info('shutting down');
      const stoppingNotice = notifier.stopping();
      let failure: unknown;
      try {
        await ingest?.stop();
      } catch (err) {
        logger.error('ingest stop failed', { error: describeError(err) });
        failure = err;
      }
      // Up to 1.5 s to deliver what was published (durable clients up to the window's head), then
      // up to 1.5 s for the close handshake: within the 5 s shutdown budget.
      await hub.close(1001, 'server shutting down', 1500);
      try {
        await closeReplay();
        await closeNats();
      } catch (err) {
        logger.error('replay window close failed', { error: describeError(err) });
      }
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await stoppingNotice;
      // The final flush is what a restart resumes from: if it failed, the stop did not succeed.
      if (isCertstreamError(failure, 'STATE_ERR_IO')) throw failure;
      logger.info('stopped');
    })();
    return closing;
  };

  return { port, url, hub, health, close };
}

/** The systemd STATUS= line: logs, clients, lag. */
export function statusLine(logs: readonly LogStatus[], clients: number, certificates: number): string {
  const polled = logs.filter((l) => l.last_success !== null).length;
  const lag = logs.reduce((sum, l) => sum + l.lag, 0);
  return `${polled}/${logs.length} logs polled, ${clients} clients, total lag ${lag}, ${certificates} certificates streamed`;
}

/**
 * A listen failure the operator can fix (port taken, address not on this machine, name that does not
 * resolve, port needing privileges) becomes a configuration error (exit 78, one line); a transient
 * one (EAI_AGAIN: DNS not ready yet) stays a runtime error that systemd retries.
 */
function listenError(err: unknown, host: string, port: number): unknown {
  const code = (err as { code?: unknown }).code;
  const where = `--host ${host} --port ${port}`;
  const reasons: Record<string, string> = {
    EADDRINUSE: 'the port is already in use (another certstream-server?)',
    EACCES: 'binding that port needs privileges (use a port >= 1024)',
    EADDRNOTAVAIL: 'the address is not one of this machine',
    ENOTFOUND: 'the host name does not resolve',
  };
  const reason = typeof code === 'string' ? reasons[code] : undefined;
  if (!reason) return err;
  return new CertstreamError('CONFIG_ERR_INVALID', `${where}: cannot listen: ${reason} (${code})`, { cause: err });
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
