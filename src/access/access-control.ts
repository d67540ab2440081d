/**
 * Access control of the listener (interface.md, "Access control and TLS"); everything off by default:
 *
 * - `--allow-from`: a TCP connection from another address is destroyed on accept, before TLS or HTTP.
 * - `--tokens`: every stream upgrade, `/latest.json` and `/example.json` need a known token (401 when
 *   missing or unknown, 429 when the token holds its max-connections), answered before any upgrade and
 *   with the same body whatever the token; with `--protect-metrics` `/metrics` and `/status.json` too.
 *   `/healthz`, the dashboard's page and its assets stay open (the page asks for a token itself).
 * - The NAME of the token an upgrade came with makes durable NAMEs per token (request-owner.ts).
 *
 * Every refusal counts in certstream_auth_failures_total{reason} and is logged at most once a minute per
 * reason, with the request's path with any `?token=` masked.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { CertstreamError, describeError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { RateLimitedLog } from '../log/rate-limited.js';
import type { ServerMetrics } from '../metrics/server-metrics.js';
import { parseAllowFrom, type AddressAllowList } from './address-allow.js';
import { maskToken, presentedToken } from './request-token.js';
import { setRequestOwner } from './request-owner.js';
import { parseTokenFile, type TokenSpec } from './token-file.js';
import { TokenRegistry } from './token-registry.js';

export interface AccessOptions {
  /** `--tokens` file; '' = no tokens (open). */
  tokensFile: string;
  /** `--allow-from` CIDR list; '' = every address. */
  allowFrom: string;
  /** `--protect-metrics`: `/metrics` and `/status.json` need a token too. */
  protectMetrics: boolean;
  metrics: ServerMetrics;
  logger: Logger;
}

/** Paths that need a token whenever tokens are on; METRICS_PATHS only with --protect-metrics. */
const DATA_PATHS = new Set(['/latest.json', '/example.json']);
const METRICS_PATHS = new Set(['/metrics', '/status.json']);

export class AccessControl {
  private readonly tokens: TokenRegistry | undefined;
  private readonly allowList: AddressAllowList | undefined;
  private readonly refusedLog: RateLimitedLog;

  /** Reads the tokens file and parses the allow-list; throws CONFIG_ERR_INVALID (exit 78 at start). */
  constructor(private readonly options: AccessOptions) {
    this.refusedLog = new RateLimitedLog(options.logger);
    if (options.tokensFile !== '') this.tokens = new TokenRegistry(readTokens(options.tokensFile));
    if (options.allowFrom !== '') {
      const list = parseAllowFrom(options.allowFrom);
      if ('error' in list) throw new CertstreamError('CONFIG_ERR_INVALID', `--allow-from: ${list.error}`);
      this.allowList = list;
    }
    this.showConnections();
  }

  /** Whether tokens are on (the dashboard's page says how to give one). */
  get protectsMetrics(): boolean {
    return this.tokens !== undefined && this.options.protectMetrics;
  }

  /**
   * SIGHUP: re-reads the tokens file. A file that does not parse is refused with one log line and the
   * tokens in force stay; connections already open stay open (also those of a token now removed).
   */
  reload(): void {
    if (!this.tokens) return;
    try {
      const next = readTokens(this.options.tokensFile);
      this.tokens.replace(next);
      this.showConnections();
      this.options.logger.info('tokens reloaded', { file: this.options.tokensFile, tokens: next.length });
    } catch (err) {
      this.options.logger.error('tokens not reloaded: the file is invalid, the previous tokens stay in force', { error: describeError(err) });
    }
  }

  /** The `connection` listener's check: false (socket destroyed, counted) for a peer outside --allow-from. */
  acceptSocket(socket: Socket): boolean {
    if (!this.allowList || this.allowList.allows(socket.remoteAddress)) return true;
    this.refused('address', { remote: socket.remoteAddress });
    socket.destroy();
    return false;
  }

  /**
   * Checks a stream upgrade before the hub sees it. Refused: answers 401/429 on the raw socket and
   * returns false. Accepted with a token: counts the connection under its NAME until the socket closes.
   */
  admitUpgrade(req: IncomingMessage, socket: Duplex): boolean {
    if (!this.tokens) return true;
    const check = this.tokens.check(presentedToken(req.url, req.headers), true);
    if (!check.ok) {
      this.refused(check.reason, { path: maskToken(req.url), remote: req.socket.remoteAddress });
      const { status, text, body, headers } = refusal(check.reason);
      socket.end(`HTTP/1.1 ${status} ${text}\r\n${headers.map(([k, v]) => `${k}: ${v}\r\n`).join('')}Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      return false;
    }
    const tokens = this.tokens;
    setRequestOwner(req, check.name);
    tokens.count(check.name, 1);
    this.showConnections();
    socket.once('close', () => {
      tokens.count(check.name, -1);
      this.showConnections();
    });
    return true;
  }

  /** Checks a plain HTTP request to `path`; refused: answers 401 on `res` and returns false. */
  admitRequest(req: IncomingMessage, res: ServerResponse, path: string): boolean {
    if (!this.tokens) return true;
    if (!DATA_PATHS.has(path) && !(this.options.protectMetrics && METRICS_PATHS.has(path))) return true;
    const check = this.tokens.check(presentedToken(req.url, req.headers), false);
    if (check.ok) return true;
    this.refused(check.reason, { path: maskToken(req.url), remote: req.socket.remoteAddress });
    const { status, body, headers } = refusal(check.reason);
    res.writeHead(status, [...headers, ['content-type', 'text/plain; charset=utf-8'], ['content-length', String(Buffer.byteLength(body))], ['cache-control', 'no-store']].flat());
    res.end(req.method === 'HEAD' ? undefined : body);
    return false;
  }

  private refused(reason: 'missing' | 'unknown' | 'limit' | 'address', fields: Record<string, unknown>): void {
    this.options.metrics.authFailures.inc({ reason });
    this.refusedLog.log('info', reason, reason === 'address' ? 'connection refused: address not in --allow-from' : 'request refused: no valid token', { reason, ...fields });
  }

  /** certstream_connections{token}: every NAME in force (0 when idle), and removed NAMEs still holding connections. */
  private showConnections(): void {
    const gauge = this.options.metrics.tokenConnections;
    if (!this.tokens) return;
    gauge.reset();
    for (const name of this.tokens.names()) gauge.set({ token: name }, this.tokens.connections(name));
    for (const [name, n] of this.tokens.openConnections()) gauge.set({ token: name }, n);
  }
}

function readTokens(file: string): TokenSpec[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CertstreamError('CONFIG_ERR_INVALID', `--tokens ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? describeError(err)})`, { cause: err });
  }
  return parseTokenFile(text, file);
}

/** The answer to a refused token: the same body for a missing and an unknown one (no hint which exist). */
function refusal(reason: 'missing' | 'unknown' | 'limit'): { status: number; text: string; body: string; headers: [string, string][] } {
  if (reason === 'limit') return { status: 429, text: 'Too Many Requests', body: 'too many connections for this token\n', headers: [['Retry-After', '30']] };
  return { status: 401, text: 'Unauthorized', body: 'a valid token is needed: Authorization: Bearer TOKEN, or ?token=TOKEN\n', headers: [['WWW-Authenticate', 'Bearer']] };
}
