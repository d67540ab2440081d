/**
 * The HTTP side of the daemon (interface.md): `/latest.json`, `/example.json`, `/healthz`, `/metrics`,
 * the dashboard (`/` for a browser, `/status.json`, its assets), the status page on the stream paths
 * without an Upgrade header, 404 for anything else. WebSocket upgrades on the stream paths go to the
 * hub; other upgrades are refused with 404.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Registry } from 'prom-client';
import { maskToken } from '../access/request-token.js';
import type { Logger } from '../log/logger.js';
import type { RecentMessages } from '../stream/recent-messages.js';
import { streamForPath } from '../stream/stream-paths.js';
import type { StatusBody } from './dashboard/status-json.js';
import { acceptsHtml, DASHBOARD_CSP, loadDashboardAssets, sendAsset } from './dashboard/static-assets.js';
import { healthHttpStatus, type HealthzBody } from './healthz.js';
import { renderStatusPage } from './status-page.js';

export interface RouteDeps {
  recent: () => RecentMessages;
  health: () => HealthzBody;
  /** The `/status.json` body; `after`: only sampled certificates with a larger `seq`. */
  status: (after: number) => Promise<StatusBody>;
  registry: Registry;
  logger: Logger;
  /** Access control (src/access/): false = it answered the request (401) itself. Default: all open. */
  admit?: (req: IncomingMessage, res: ServerResponse, path: string) => boolean;
}

/** The `request` listener of the HTTP server. */
export function createRequestHandler(deps: RouteDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const assets = loadDashboardAssets(); // throws at start-up, not at the first page view, when missing
  return (req, res) => {
    handle(req, res, deps, assets).catch((err: unknown) => {
      deps.logger.error('http handler failed', { url: maskToken(req.url), err });
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
      else res.destroy();
    });
  };
}

async function handle(req: IncomingMessage, res: ServerResponse, deps: RouteDeps, assets: ReturnType<typeof loadDashboardAssets>): Promise<void> {
  const url = req.url ?? '/';
  const path = url.replace(/[?#].*$/, '');
  const known = isKnownPath(path);
  if (!known) return send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    return send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
  }
  if (deps.admit && !deps.admit(req, res, path)) return;
  switch (path) {
    case '/latest.json':
      return send(res, 200, 'application/json', deps.recent().latestJson());
    case '/example.json':
      return send(res, 200, 'application/json', deps.recent().exampleJson());
    case '/healthz': {
      const body = deps.health();
      return send(res, healthHttpStatus(body.status), 'application/json', JSON.stringify(body));
    }
    case '/metrics': {
      const text = await deps.registry.metrics();
      return send(res, 200, deps.registry.contentType, text);
    }
    case '/status.json': {
      const after = Number(new URL(url, 'http://x').searchParams.get('after') ?? 0);
      const body = await deps.status(Number.isSafeInteger(after) && after > 0 ? after : 0);
      return send(res, 200, 'application/json', JSON.stringify(body));
    }
    case '/assets/dashboard.css':
    case '/assets/dashboard.js':
      return sendAsset(req, res, assets.get(path)!);
  }
  if (path === '/') {
    // One URL, two pages: a browser gets the dashboard, curl the short text; caches must keep both.
    res.setHeader('vary', 'accept');
    if (acceptsHtml(req)) return sendAsset(req, res, assets.get('/')!, { 'content-security-policy': DASHBOARD_CSP });
  }
  const stream = streamForPath(url);
  if (stream !== undefined) {
    // Behind a TLS-terminating proxy the page should show wss:// URLs.
    const secure = String(req.headers['x-forwarded-proto'] ?? '').split(',')[0].trim() === 'https';
    return send(res, 200, 'text/html; charset=utf-8', renderStatusPage(stream, req.headers.host, deps.health(), secure));
  }
  return send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
}

function isKnownPath(path: string): boolean {
  return ['/latest.json', '/example.json', '/healthz', '/metrics', '/status.json', '/assets/dashboard.css', '/assets/dashboard.js'].includes(path) ||
    streamForPath(path) !== undefined;
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

/**
 * The `upgrade` listener: stream paths go to `accept` (the hub); anything else is answered 404 and
 * closed, so a stray client learns it asked for the wrong path.
 */
export function createUpgradeHandler(accept: (req: IncomingMessage, socket: Duplex, head: Buffer) => boolean): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  return (req, socket, head) => {
    socket.on('error', () => socket.destroy());
    if (accept(req, socket, head)) return;
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\nnot found\n');
  };
}

/** An upgrade to a stream on a `--role ingest` node: 503 with one line saying where to connect. */
export function refuseStreamUpgrade(socket: Duplex): true {
  const body = 'this node is --role ingest: it serves no stream; connect to an edge\n';
  socket.end(`HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  return true;
}
