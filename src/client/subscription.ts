/**
 * A certstream subscription that stays up: it connects, reconnects with capped, jittered backoff after
 * any cut, notices a dead or black-holed connection within two heartbeat intervals (it pings every
 * interval and gives up on a peer that sent nothing — no frame, no pong — for two), and hands each entry
 * to the caller once: a frame sent again after a reconnect is dropped on `(source.url, cert_index)`, a
 * jump forward is reported as a gap. With `id` the server replays what the subscriber missed while it was
 * away (interface.md, "Lossless delivery"), so a durable subscription loses nothing across cuts.
 *
 * Events: `entry` (a certificate_update, parsed), `domains` (a dns_entries frame of /domains-only),
 * `heartbeat`, `connect` ({ url, attempt }), `disconnect` ({ code, reason }), `resume` ({ id }: a
 * durable subscription reconnected), `gap` ({ log, from, to }), `repeat` ({ log, index }: dropped),
 * `frame` (every frame as received, binary ones too, before any of that: for tools that judge the feed).
 *
 * With `process` (an async handler of raw text frames, for durable subscribers that commit what they
 * receive) the subscription confirms nothing the handler has not finished: it answers the server's pings
 * itself, once every frame before them is handled (client/confirmed-queue.ts), and pauses the socket
 * while the handler is behind. Frames then go to `process` instead of the entry events; a handler that
 * throws ends the subscription (`failure`), leaving those frames unconfirmed for the next run.
 */
import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import { backoffDelay } from '../ct/backoff.js';
import { describeError } from '../errors.js';
import { ConfirmedQueue } from './confirmed-queue.js';
import { SeenEntries } from './seen-entries.js';
import { maskToken } from '../access/request-token.js';
import { streamUrl, type StreamQuery } from './stream-url.js';
import { trustedCas, type CaCertificates } from './trust.js';

/** A certificate_update frame as the server sends it (the fields the client reads; the rest is there too). */
export interface CertificateUpdate {
  message_type: 'certificate_update';
  data: {
    update_type: string;
    cert_index: number;
    seen: number;
    source: { url: string; name: string };
    leaf_cert: { all_domains: string[]; [key: string]: unknown };
    [key: string]: unknown;
  };
}

export interface SubscribeOptions extends StreamQuery {
  /** Stops the subscription (as `close()`). */
  signal?: AbortSignal;
  /** The server's heartbeat interval, ms (default 10_000, the server's default): dead after two. */
  heartbeatIntervalMs?: number;
  /** First reconnect delay, ms (default 500), and the cap (default 30_000). */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Opening handshake limit, ms (default 10_000). */
  handshakeTimeoutMs?: number;
  /** Drop entries given before (default true). Tools that measure a feed turn it off. */
  dedupe?: boolean;
  /** Handles raw text frames in order; a ping is answered only once the frames before it are handled. */
  process?: (frames: string[]) => Promise<void>;
  /** With `process`: most frames per call (default 500), frames waiting before the socket pauses (default 5_000). */
  batchSize?: number;
  maxQueued?: number;
  /** `wss://`: a CA to trust besides the system's (a private CA, a self-signed server). */
  ca?: CaCertificates;
}

export interface SubscriptionEvents {
  entry: [message: CertificateUpdate];
  domains: [names: string[]];
  heartbeat: [timestamp: number];
  frame: [data: Buffer, binary: boolean];
  connect: [info: { url: string; attempt: number }];
  disconnect: [info: { code: number; reason: string }];
  resume: [info: { id: string }];
  gap: [info: { log: string; from: number; to: number }];
  repeat: [info: { log: string; index: number }];
  /** A connection attempt failed before it opened (the subscription retries). */
  attemptFailed: [info: { reason: string; attempt: number }];
  /** `process` threw: the subscription is closed. */
  failure: [err: unknown];
}

export class Subscription extends EventEmitter<SubscriptionEvents> {
  /** The stream URL as shown (events, logs): a `token` in it reads `***`. */
  readonly url: string;
  /** The URL connected to, token included. */
  private readonly target: string;
  private readonly seen = new SeenEntries();
  private ws: WebSocket | undefined;
  private closed = false;
  private everConnected = false;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private livenessTimer: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;
  private readonly queue: ConfirmedQueue | undefined;
  /** Something arrived since the last liveness tick (or the handler made progress). */
  private heard = true;
  /** True while the WebSocket is open. */
  up = false;

  constructor(
    target: string,
    private readonly options: SubscribeOptions = {},
  ) {
    super();
    this.target = streamUrl(target, options);
    this.url = maskToken(this.target)!;
    if (options.process) {
      this.queue = new ConfirmedQueue({
        process: options.process,
        batchSize: options.batchSize,
        maxQueued: options.maxQueued,
        onProgress: () => (this.heard = true),
        onFailure: (err) => {
          this.emit('failure', err);
          void this.close();
        },
      });
    }
    options.signal?.addEventListener('abort', () => void this.close(), { once: true });
    // Started on the next turn, so the caller attaches its listeners first.
    if (!options.signal?.aborted) setImmediate(() => this.open());
  }

  /** Stops: no more reconnects; resolves once the socket is closed. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      clearTimeout(this.retryTimer);
      clearInterval(this.livenessTimer);
      // The batch being handled finishes (and is confirmed if a ping waits for it).
      await this.queue?.stop();
      const ws = this.ws;
      if (ws === undefined || ws.readyState === WebSocket.CLOSED) return;
      const gone = new Promise<void>((resolve) => ws.once('close', () => resolve()));
      ws.close(1000, 'client closing');
      const t = setTimeout(() => ws.terminate(), 2_000);
      await gone;
      clearTimeout(t);
    })();
    return this.closing;
  }

  private open(): void {
    if (this.closed) return;
    const queue = this.queue;
    const ws = new WebSocket(this.target, { ca: trustedCas(this.options.ca), perMessageDeflate: false, handshakeTimeout: this.options.handshakeTimeoutMs ?? 10_000, autoPong: queue === undefined });
    this.ws = ws;
    let lastError: string | undefined;
    ws.on('open', () => {
      this.up = true;
      this.heard = true;
      queue?.attach({ pong: (data) => ws.readyState === WebSocket.OPEN && ws.pong(data), pause: () => ws.pause(), resume: () => ws.resume() });
      const resumed = this.everConnected && this.options.id !== undefined;
      this.everConnected = true;
      this.emit('connect', { url: this.url, attempt: this.attempt });
      this.attempt = 0;
      if (resumed) this.emit('resume', { id: this.options.id! });
      const every = this.options.heartbeatIntervalMs ?? 10_000;
      // Two intervals of silence: the first tick pings a quiet peer, the second gives up on it.
      this.livenessTimer = setInterval(() => {
        // A socket paused for the handler's sake is quiet on purpose.
        if (!this.heard && !queue?.paused) {
          lastError = `nothing received for ${(2 * every) / 1000} s (dead or black-holed connection)`;
          ws.terminate();
          return;
        }
        this.heard = false;
        ws.ping();
      }, every);
    });
    ws.on('message', (data, isBinary) => {
      this.heard = true;
      const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      this.emit('frame', bytes, isBinary);
      if (isBinary) return;
      if (queue) queue.push(bytes.toString('utf8'));
      else this.deliver(bytes);
    });
    ws.on('ping', (data) => {
      this.heard = true;
      queue?.ping(data);
    });
    ws.on('pong', () => (this.heard = true));
    ws.on('error', (err) => (lastError = describeError(err)));
    ws.on('close', (code, reasonBytes) => {
      clearInterval(this.livenessTimer);
      queue?.attach(undefined);
      if (this.ws === ws) this.ws = undefined;
      const reason = reasonBytes.toString() || lastError || '';
      if (this.up) {
        this.up = false;
        // Our own close() is not a lost connection: no event for it.
        if (!this.closed) this.emit('disconnect', { code, reason });
      } else if (!this.closed) {
        this.emit('attemptFailed', { reason: reason || `closed with code ${code}`, attempt: this.attempt });
      }
      if (this.closed) return;
      this.attempt++;
      this.retryTimer = setTimeout(() => this.open(), backoffDelay(this.attempt, { baseMs: this.options.backoffBaseMs ?? 500, maxMs: this.options.backoffMaxMs ?? 30_000 }));
    });
  }

  private deliver(bytes: Buffer): void {
    let message: { message_type?: unknown; data?: unknown; timestamp?: unknown };
    try {
      message = JSON.parse(bytes.toString('utf8')) as typeof message;
    } catch {
      return; // not a certstream frame: `frame` listeners saw it
    }
    if (message.message_type === 'heartbeat') {
      this.emit('heartbeat', typeof message.timestamp === 'number' ? message.timestamp : NaN);
    } else if (message.message_type === 'dns_entries' && Array.isArray(message.data)) {
      this.emit('domains', message.data as string[]);
    } else if (message.message_type === 'certificate_update') {
      const update = message as CertificateUpdate;
      const log = update.data?.source?.url;
      const index = update.data?.cert_index;
      if (this.options.dedupe !== false && typeof log === 'string' && Number.isSafeInteger(index)) {
        const seen = this.seen.offer(log, index);
        if (seen.kind === 'repeat') {
          this.emit('repeat', { log, index });
          return;
        }
        // A `match` stream leaves out every entry that does not match: its jumps are no loss.
        if (seen.kind === 'gap' && this.options.match === undefined) this.emit('gap', { log, from: seen.from, to: seen.to });
      }
      this.emit('entry', update);
    }
  }
}

/**
 * Subscribes to a certstream server's stream.
 * @param target a stream URL (`ws://HOST:4000/full-stream`, http(s) accepted) or `local`
 * @throws CertstreamError CLIENT_ERR_USAGE for a bad URL, `id` or `since` (at once, not on connect)
 */
export function subscribe(target: string, options: SubscribeOptions = {}): Subscription {
  return new Subscription(target, options);
}
