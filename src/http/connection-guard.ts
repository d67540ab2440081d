/**
 * Bounds on the TCP connections of the listener, so that idle or hostile sockets cannot use up the
 * process's file descriptors (which the followers need for their requests to the logs):
 *
 * - A connection must complete its first request's headers (an HTTP request or a WebSocket upgrade)
 *   within `firstRequestTimeoutMs` of connecting, or it is destroyed. Node's own headersTimeout is only
 *   checked every connectionsCheckingInterval and defaults to 60 s, so a silent socket could stay
 *   ~90 s; this timer is per socket and exact. Later requests on a keep-alive connection are bounded
 *   by Node's keepAliveTimeout and headersTimeout/requestTimeout, which `createListener` sets.
 * - At most `maxConnections` are open at once (HTTP and WebSocket alike, through
 *   `server.maxConnections`); Node closes further ones on accept, and each is counted.
 * - certstream_open_connections (gauge), certstream_connections_rejected_total{reason} (counter:
 *   `limit` for the cap, `timeout` for a socket that sent no complete request in time).
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from '../log/logger.js';
import { RateLimitedLog } from '../log/rate-limited.js';

/** File descriptors kept free for the followers, the cursor file and the rest of the process. */
export const FD_RESERVE = 128;

export interface ConnectionGuardOptions {
  /** Most connections open at once (capped by `openFileLimit() - FD_RESERVE` when that is known). */
  maxConnections: number;
  /** A connection that has not sent a complete request (headers) by then is destroyed, ms. Default 10_000. */
  firstRequestTimeoutMs?: number;
  /** Node's headersTimeout for every request, ms. Default 10_000. */
  headersTimeoutMs?: number;
  /** Node's requestTimeout (whole request received), ms. Default 30_000. */
  requestTimeoutMs?: number;
  registry: Registry;
  logger: Logger;
  /** PEM certificate (chain) and key: the listener speaks TLS (`https://`, `wss://`); default plain. */
  tls?: { cert: Buffer; key: Buffer };
  /** Runs first on every accepted TCP connection; false = it destroyed the socket (--allow-from). */
  acceptSocket?: (socket: Socket) => boolean;
}

/** The soft limit on open files of this process (Linux /proc), or undefined when unknown. */
export function openFileLimit(limitsText?: string): number | undefined {
  let text = limitsText;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return undefined;
    }
  }
  const m = /^Max open files\s+(\d+|unlimited)\s/m.exec(text);
  if (!m || m[1] === 'unlimited') return undefined;
  return Number(m[1]);
}

/** The effective connection cap: the configured one, lowered to leave FD_RESERVE descriptors free. */
export function effectiveMaxConnections(configured: number, fileLimit: number | undefined): number {
  if (fileLimit === undefined) return configured;
  return Math.max(1, Math.min(configured, fileLimit - FD_RESERVE));
}

/**
 * Creates the HTTP server with the request bounds set and the connection guard attached.
 * `onRequest` is the request listener; upgrades are for the caller to handle (`server.on('upgrade')`).
 */
export function createListener(onRequest: RequestListener, options: ConnectionGuardOptions): Server {
  const headersTimeout = options.headersTimeoutMs ?? 10_000;
  const bounds = {
    headersTimeout,
    requestTimeout: Math.max(options.requestTimeoutMs ?? 30_000, headersTimeout),
    // How often Node checks the two above (default 30 s): at most a second late.
    connectionsCheckingInterval: Math.min(1000, headersTimeout),
    // A stream request may carry `match=` rules of up to 16 KiB, three times that URL-encoded; Node's
    // default (16 KiB of headers) would answer it 431 before the hub could say what is wrong with it.
    maxHeaderSize: 64 * 1024,
  };
  const server = options.tls ? createTlsServer({ ...bounds, ...options.tls }, onRequest) : createServer(bounds, onRequest);
  guardConnections(server, options);
  return server;
}

/** Attaches the first-request timer, the connection cap and the metrics to `server`. */
export function guardConnections(server: Server, options: ConnectionGuardOptions): void {
  const firstRequestMs = options.firstRequestTimeoutMs ?? 10_000;
  const limit = effectiveMaxConnections(options.maxConnections, openFileLimit());
  if (limit < options.maxConnections) {
    options.logger.warn('--max-connections lowered to fit the open-file limit', { configured: options.maxConnections, effective: limit, reserve: FD_RESERVE });
  }
  server.maxConnections = limit;
  const open = new Set<Socket>();
  // By peer address and port, not by socket: with TLS the request's socket wraps the accepted one.
  const waiting = new Map<string, NodeJS.Timeout>();
  const rejectLog = new RateLimitedLog(options.logger);

  new Gauge({
    name: 'certstream_open_connections',
    help: 'TCP connections open on the listener (HTTP and WebSocket).',
    registers: [options.registry],
    collect() {
      this.set(open.size);
    },
  });
  new Gauge({
    name: 'certstream_max_connections',
    help: 'The connection cap in force (--max-connections, lowered to fit the open-file limit).',
    registers: [options.registry],
  }).set(limit);
  const rejected = new Counter({
    name: 'certstream_connections_rejected_total',
    help: 'Connections closed by the guard: limit (over --max-connections), timeout (no complete request in time).',
    labelNames: ['reason'] as const,
    registers: [options.registry],
  });
  rejected.inc({ reason: 'limit' }, 0);
  rejected.inc({ reason: 'timeout' }, 0);

  // Prepended: a peer outside --allow-from is dropped before TLS or HTTP see it.
  server.prependListener('connection', (socket: Socket) => {
    if (options.acceptSocket && !options.acceptSocket(socket)) return;
    open.add(socket);
    const key = peerKey(socket);
    const timer = setTimeout(() => {
      waiting.delete(key);
      rejected.inc({ reason: 'timeout' });
      rejectLog.log('info', 'timeout', 'connection closed: no complete request in time', { remote: socket.remoteAddress, timeout_ms: firstRequestMs });
      socket.destroy();
    }, firstRequestMs);
    timer.unref();
    waiting.set(key, timer);
    socket.once('close', () => {
      open.delete(socket);
      clearTimeout(waiting.get(key));
      waiting.delete(key);
    });
  });
  const started = (req: IncomingMessage | { socket: Duplex }) => {
    const key = peerKey(req.socket as Socket);
    clearTimeout(waiting.get(key));
    waiting.delete(key);
  };
  // Both fire once the request's headers are complete; prepend so the timer stops before any handler.
  server.prependListener('request', started);
  server.prependListener('upgrade', started);
  server.on('drop', (data?: { remoteAddress?: string }) => {
    rejected.inc({ reason: 'limit' });
    rejectLog.log('warn', 'limit', 'connection refused: --max-connections reached', { remote: data?.remoteAddress, max_connections: limit });
  });
}

function peerKey(socket: Socket): string {
  return `${socket.remoteAddress ?? ''}|${socket.remotePort ?? ''}`;
}
