/**
 * The one place CT logs are fetched from (undici). Every request carries the configured User-Agent and
 * a timeout (never undici's 300 s defaults); gzip bodies are accepted even when not negotiated, with a
 * cap on the decompressed size; failures become CertstreamErrors whose codes map onto the
 * `certstream_log_errors_total{kind}` values.
 */
import type { Dispatcher } from 'undici';
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import { CertstreamError } from '../errors.js';
import type { LogErrorKind } from './types.js';
import { parseRetryAfter } from './backoff.js';
import { requestDeadline } from './request-deadline.js';
import { Agent, request } from './undici-core.js';

const gunzipAsync = promisify(gunzip);

/** The whole-call backstop, in deadlines: the request's own deadline starts only once it is sent. */
const QUEUE_BACKSTOP_FACTOR = 4;

/** An HTTP failure with its status; for 429 also the delay the server asked for. */
export class HttpStatusError extends CertstreamError {
  /** HTTP status code. */
  readonly status: number;
  /** Parsed Retry-After in ms, when the server sent one. */
  readonly retryAfterMs: number | undefined;

  constructor(status: number, url: string, retryAfterMs: number | undefined) {
    super(status === 429 ? 'CT_ERR_RATE_LIMITED' : 'CT_ERR_HTTP', `GET ${url}: HTTP ${status}`);
    this.status = status;
    this.retryAfterMs = retryAfterMs;
  }
}

/** Settings of an HttpClient. */
export interface HttpClientOptions {
  /** Sent on every request. */
  userAgent: string;
  /**
   * Whole-request deadline in ms, headers and body included, from the request's dispatch on a connection
   * (default 15_000). The call as a whole, waiting for a connection included, is cut at 4 times this.
   */
  timeoutMs?: number;
  /** Largest accepted body in bytes, after gzip decoding (default 64 MiB). */
  maxBodyBytes?: number;
  /**
   * Connections per origin (default 8). The whole-request deadline runs from the call, so a request
   * must never wait for a socket: give each client at least as many connections as requests it has in
   * flight to one origin (Ingest gives each log its own client sized to its windows).
   */
  connections?: number;
  /** Clock for Retry-After HTTP-dates (default Date.now). */
  now?: () => number;
}

/** Result of a successful GET. */
export interface HttpResponse {
  status: number;
  body: Buffer;
  headers: Record<string, string | string[] | undefined>;
}

/** GET with timeouts, UA, gzip and typed errors. Create one per Ingest; `close()` drops its sockets. */
export class HttpClient {
  private readonly agent: Agent;
  private readonly dispatcher: Dispatcher;
  private readonly timeoutMs: number;
  private readonly maxBodyBytes: number;
  private readonly now: () => number;

  constructor(private readonly options: HttpClientOptions) {
    this.timeoutMs = options.timeoutMs ?? 15_000;
    this.maxBodyBytes = options.maxBodyBytes ?? 64 * 1024 * 1024;
    this.now = options.now ?? Date.now;
    this.agent = new Agent({
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
      connect: { timeout: this.timeoutMs },
      connections: Math.max(1, options.connections ?? 8),
    });
    // The deadline runs from the request's dispatch on a connection (request-deadline.ts).
    this.dispatcher = this.agent.compose(requestDeadline(this.timeoutMs));
  }

  /**
   * Fetches `url`. Resolves for 2xx; throws HttpStatusError (CT_ERR_HTTP / CT_ERR_RATE_LIMITED),
   * CT_ERR_TIMEOUT, CT_ERR_BODY_TOO_LARGE, CT_ERR_ABORTED (when `signal` aborted) or CT_ERR_HTTP.
   */
  async get(url: string, signal?: AbortSignal, limits: { maxBodyBytes?: number } = {}): Promise<HttpResponse> {
    const maxBodyBytes = Math.min(limits.maxBodyBytes ?? this.maxBodyBytes, this.maxBodyBytes);
    // A backstop only: bounds the wait for a connection too, should every socket of the pool be stuck.
    const timeout = AbortSignal.timeout(QUEUE_BACKSTOP_FACTOR * this.timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    try {
      const res = await request(this.dispatcher, url, {
        method: 'GET',
        signal: combined,
        headers: { 'user-agent': this.options.userAgent, 'accept-encoding': 'gzip' },
      });
      if (res.statusCode < 200 || res.statusCode > 299) {
        const retryAfter = res.headers['retry-after'];
        await res.body.dump().catch(() => undefined);
        throw new HttpStatusError(
          res.statusCode,
          url,
          parseRetryAfter(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter, this.now()),
        );
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res.body) {
        size += (chunk as Buffer).length;
        if (size > maxBodyBytes) {
          res.body.destroy();
          throw new CertstreamError('CT_ERR_BODY_TOO_LARGE', `GET ${url}: body over ${maxBodyBytes} bytes`);
        }
        chunks.push(chunk as Buffer);
      }
      let body: Buffer = Buffer.concat(chunks);
      if (String(res.headers['content-encoding'] ?? '').toLowerCase().includes('gzip')) {
        body = await this.gunzip(url, body, maxBodyBytes);
      }
      return { status: res.statusCode, body, headers: res.headers };
    } catch (err) {
      throw this.classify(err, url, signal, timeout);
    }
  }

  /** GET and JSON.parse; CT_ERR_BAD_RESPONSE when the body is not JSON. */
  async getJson(url: string, signal?: AbortSignal): Promise<unknown> {
    const res = await this.get(url, signal);
    try {
      return JSON.parse(res.body.toString('utf8'));
    } catch (err) {
      throw new CertstreamError('CT_ERR_BAD_RESPONSE', `GET ${url}: body is not JSON`, { cause: err });
    }
  }

  /** Closes pooled connections (hanging requests fail with CT_ERR_ABORTED / CT_ERR_HTTP). */
  async close(): Promise<void> {
    await this.agent.destroy().catch(() => undefined);
  }

  private async gunzip(url: string, body: Buffer, maxBodyBytes: number): Promise<Buffer> {
    try {
      return await gunzipAsync(body, { maxOutputLength: maxBodyBytes });
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
        throw new CertstreamError('CT_ERR_BODY_TOO_LARGE', `GET ${url}: gzip body over ${maxBodyBytes} bytes`);
      }
      throw new CertstreamError('CT_ERR_BAD_RESPONSE', `GET ${url}: bad gzip body`, { cause: err });
    }
  }

  private classify(err: unknown, url: string, signal: AbortSignal | undefined, timeout: AbortSignal): CertstreamError {
    if (err instanceof CertstreamError) return err;
    if (signal?.aborted) return new CertstreamError('CT_ERR_ABORTED', `GET ${url}: aborted`, { cause: err });
    const code = (err as { code?: string }).code ?? '';
    if (timeout.aborted || code === 'CT_REQUEST_DEADLINE' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' ||
        code === 'UND_ERR_CONNECT_TIMEOUT') {
      return new CertstreamError('CT_ERR_TIMEOUT', `GET ${url}: timed out after ${this.timeoutMs} ms`, { cause: err });
    }
    const why = err instanceof Error ? err.message : String(err);
    return new CertstreamError('CT_ERR_HTTP', `GET ${url}: ${code || why}`, { cause: err });
  }
}

/**
 * The `certstream_log_errors_total` kind of an error thrown while following a log. Exhaustive over
 * ErrorCode: a new code does not compile until it is given a kind here.
 */
export function errorKind(err: unknown): LogErrorKind {
  if (!(err instanceof CertstreamError)) return 'parse';
  const code = err.code;
  switch (code) {
    case 'CT_ERR_RATE_LIMITED':
      return 'rate_limited';
    case 'CT_ERR_TIMEOUT':
      return 'timeout';
    case 'CT_ERR_HTTP':
    case 'CT_ERR_ABORTED': // a cancelled request is no fault of the log's data: a transport failure
      return 'http';
    case 'CT_ERR_BODY_TOO_LARGE':
    case 'CT_ERR_BAD_RESPONSE':
    case 'CT_ERR_BAD_LEAF':
    case 'CT_ERR_BAD_TILE':
    case 'CT_ERR_BAD_CHECKPOINT':
    case 'CT_ERR_ORIGIN_MISMATCH':
    case 'CT_ERR_TREE_SHRANK':
    case 'CT_ERR_ISSUER_MISMATCH':
    case 'CT_ERR_TOO_LARGE':
    case 'CT_ERR_CURSOR_AHEAD':
    case 'CT_ERR_IMPLAUSIBLE_HEAD':
    case 'X509_ERR_BAD_DER':
    case 'X509_ERR_NOT_A_CERT':
    case 'RENDER_ERR_TOO_LARGE':
      return 'parse';
    case 'CONFIG_ERR_INVALID':
    case 'CONFIG_ERR_LOG_LIST':
    case 'STATE_ERR_IO':
    case 'STATE_ERR_CORRUPT':
    case 'STATE_ERR_LOCKED':
    case 'AUDIT_ERR_USAGE':
    case 'AUDIT_ERR_FEED_UNREACHABLE':
    case 'AUDIT_ERR_BAD_RECORDING':
    case 'WATCH_ERR_USAGE':
    case 'WATCH_ERR_CONFIG':
    case 'WATCH_ERR_DB':
    case 'WATCH_ERR_DB_UNAVAILABLE':
    case 'CLIENT_ERR_USAGE':
    case 'NATS_ERR_UNAVAILABLE':
    case 'NATS_ERR_STREAM':
    case 'STREAM_ERR_WIRING':
    case 'VERIFY_ERR_KEY': // a verification failure stops the log (ct/log-verification.ts); it is not a fetch error
    case 'VERIFY_ERR_SIGNATURE':
    case 'VERIFY_ERR_ROOT_MISMATCH':
    case 'VERIFY_ERR_INCONSISTENT':
      // Not raised while following a log; counted as parse should one ever reach a follower.
      return 'parse';
    default: {
      const unhandled: never = code;
      return unhandled;
    }
  }
}
