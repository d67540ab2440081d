/**
 * The fan-out hub: every rendered certificate goes to every client of the three streams, and no slow
 * client can stall the others (style.md habit 7).
 *
 * - `publish()` queues a batch; a flush — on the next event-loop turn, but at most once per flush
 *   interval — frames each stream's messages once (one Buffer per stream) and hands the same bytes to
 *   every client of that stream: one socket write per client per flush, however many logs delivered
 *   entries in between. The interval is `flushIntervalMs` (10 ms), longer with many clients so that
 *   socket writes stay near `writesPerSecond` (25,000/s: 40 ms at 1,000 clients, at most 100 ms).
 * - Each client gets the longest prefix of the batch that fits its byte budget; the rest is dropped and
 *   counted (certstream_client_dropped_messages_total). A client that stays over budget for
 *   `slowClientTimeoutMs` is closed (1008) and counted as disconnect reason `slow`; if its socket does
 *   not drain the close frame it is terminated shortly after.
 * - Protocol pings every `pingIntervalMs`; a client that did not answer the previous one is terminated
 *   (`ping_timeout`). Client frames are read and ignored (they count as a sign of life).
 * - The client's own pings are answered here, not by ws: a client with more than `maxPendingPongs`
 *   answers not yet written (it pings without reading) is terminated (ping-guard.ts; durable clients
 *   too). That, an invalid frame or a message over `maxPayloadBytes` counts as disconnect reason
 *   `protocol`, not `client` or `error`.
 * - Memory for all clients together is bounded (`clientsMemoryBytes`, --clients-memory-bytes): after
 *   every flush and sweep, when plain and durable clients together hold more queued bytes than that, the
 *   largest holders are closed as slow (1008, reason `slow`) until the others fit (clients-memory.ts).
 * - Heartbeats (`{"message_type":"heartbeat","timestamp":…}`) go through the same queue on lite and full.
 * - Consumer pacing: `roomForIngest()` tells the ingest to wait while every connected plain client is
 *   over half its budget (counting what is queued for it); the fastest client paces a catch-up, slower
 *   ones drop as before, durable clients read the window and never slow the ingest.
 * - With a replay window (`durable`), every batch is appended to it first (entries it already holds are
 *   left out for everyone), and clients with `?id=` or `?since=` are served from it (durable-fanout.ts).
 * - `?match=RULES` (filter-rules.ts): clients with the same normalised rules share one compiled set
 *   (filter-sets.ts). Each published entry's names are read once from its domains frame and matched once
 *   against all sets together; each set queues its matching frames (and the heartbeats) per stream, and a flush
 *   frames them once for all of the set's clients, plain and durable — the same bytes as the unfiltered
 *   stream's frames, fewer of them.
 * - `?verified=1` (interface.md "Verified logs"): such clients are readers of the window like durable
 *   ones, and receive an entry only once a verified signed head covers it (`coverage`, fed by the
 *   ingest's verification; verified-reader.ts holds a log back, not the stream). A flush whose entries
 *   are all covered — the usual case: a follower checks a window's root before handing it on — goes to
 *   them as the same shared batch; otherwise they read from the window. On a NATS edge the coverage is fed
 *   by the ingest nodes' saved verification (nats/kv-coverage.ts); without `coverage`, nothing is proven.
 */
import { maskToken } from '../access/request-token.js';
import { sleep } from '../ct/backoff.js';
import { CertstreamError } from '../errors.js';
import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { Counter, Gauge } from 'prom-client';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from '../log/logger.js';
import { RateLimitedLog } from '../log/rate-limited.js';
import { closeLaggards, pingClients } from './client-liveness.js';
import { IngestPacing } from './ingest-pacing.js';
import type { ServerMetrics } from '../metrics/server-metrics.js';
import type { ReplayWindow } from '../replay/replay-window.js';
import type { FrameParts } from '../render/renderer.js';
import { overMemoryLimit } from './clients-memory.js';
import type { DurableClient } from './durable-client.js';
import { DurableFanout } from './durable-fanout.js';
import type { DurablePositions } from './durable-positions.js';
import type { FilterRules } from './filter-rules.js';
import { entryNames, FilterSets, type FilterSet } from './filter-sets.js';
import { answerPings, DEFAULT_MAX_PENDING_PONGS, protocolError } from './ping-guard.js';
import { RecentMessages } from './recent-messages.js';
import { DISCONNECT_REASONS, StreamClient, type DisconnectReason } from './stream-client.js';
import { STREAM_NAMES, STREAM_VARIANTS, streamForPath, type StreamName } from './stream-paths.js';
import { parseSubscriptionQuery, type SubscriptionQuery } from './subscription-query.js';
import { VerifiedCoverage } from './verified-coverage.js';
import { frameBatch, type FrameBatch } from './ws-frame.js';

/** Seqs [start, end) of the window entries queued for a flush; `shared` false when the window left some out. */
interface PendingSeqs {
  start: number;
  end: number;
  shared: boolean;
}

/** One certificate serialized for each stream (the Renderer's output carries these fields). */
export interface StreamFrames {
  readonly lite: string;
  readonly full: string;
  readonly domains: string;
  /** The entry's log URL, `cert_index` and `seen` (epoch s): its identity in the replay window. */
  readonly log?: string;
  readonly index?: number;
  readonly seen?: number;
  /** The renderer's pieces of the frames, for the replay window (replay/record-codec.ts, WindowEntry). */
  readonly parts?: FrameParts;
}

export interface FanoutHubOptions {
  metrics: ServerMetrics;
  logger: Logger;
  /** Per-client byte budget (bufferedAmount + batch), bytes. */
  clientBufferBytes: number;
  /** How long a client may stay over budget before it is closed, ms. */
  slowClientTimeoutMs: number;
  /** Protocol ping period, ms; 0 = off. */
  pingIntervalMs: number;
  /** Heartbeat period on lite and full, ms; 0 = off. */
  heartbeatIntervalMs: number;
  /** Offer permessage-deflate. */
  perMessageDeflate: boolean;
  /** Largest accepted client frame, bytes. */
  maxPayloadBytes: number;
  /** Clock, epoch ms (tests). Default Date.now. */
  now?: () => number;
  /** How often slow clients are checked, ms. Default min(1000, slowClientTimeoutMs / 4). */
  sweepIntervalMs?: number;
  /** How long a closed slow client gets to take the close frame before it is terminated, ms. Default 2000. */
  closeGraceMs?: number;
  /** Shortest time between two flushes, ms (default 10): bounds socket writes per client per second. */
  flushIntervalMs?: number;
  /** Socket writes per second the flush interval aims at with many clients (default 25_000). */
  writesPerSecond?: number;
  /** Unwritten pongs a client may pile up by pinging without reading before it is terminated (default 60, as ws). */
  maxPendingPongs?: number;
  /**
   * Bytes all clients together may hold queued (--clients-memory-bytes); beyond it the largest holders
   * are closed as slow. Default: unbounded.
   */
  clientsMemoryBytes?: number;
  /**
   * The replay window and durable positions; without them `?id=` and `?since=` are refused (400).
   * 'later': they are given by attachDurable (the server opens them only once its listener is bound, so
   * a refused start writes nothing); until then `?id=` and `?since=` get a 503 the client retries.
   */
  durable?: DurableStore | 'later';
  /** Most distinct `match=` rule sets at once (filter-sets.ts default 10,000); a new set beyond gets a 503. */
  maxFilterSets?: number;
  /** Most normalised rule bytes of all `match=` sets together (filter-sets.ts default 32 MiB); beyond, a 503. */
  maxFilterBytes?: number;
  /** How far each followed log is proven, for `verified=1` clients; without it nothing is (they get heartbeats only). */
  coverage?: VerifiedCoverage;
}

/** What the hub's durable side reads from and confirms into. */
export interface DurableStore {
  window: ReplayWindow;
  positions: DurablePositions;
  /** --durable-ping-interval, ms. */
  pingIntervalMs: number;
  /** Unanswered-ping tolerance for a client that stopped reading, ms. */
  pongTimeoutMs?: number;
}

/** Counters for the status page and systemd STATUS=. */
export interface HubStats {
  clients: Record<StreamName, number>;
  /** Certificates published since start. */
  published: number;
  /** Frames dropped for slow clients since start. */
  dropped: number;
}

/** Events: `connect` (stream), `disconnect` (stream, reason) — for tests, logs and status. */
export interface FanoutHubEvents {
  connect: [stream: StreamName];
  disconnect: [stream: StreamName, reason: DisconnectReason];
}

export class FanoutHub extends EventEmitter<FanoutHubEvents> {
  private readonly wss: WebSocketServer;
  private readonly clients = new Set<StreamClient>();
  /** The plain clients without a filter (a filtered one is in its FilterSet's `plain`). */
  private readonly unfiltered = new Set<StreamClient>();
  private readonly counts: Record<StreamName, number> = { lite: 0, full: 0, domains: 0 };
  /** Clients with a `match=` filter, plain and durable (included in `counts`). */
  private readonly filteredCounts: Record<StreamName, number> = { lite: 0, full: 0, domains: 0 };
  private readonly filters: FilterSets;
  private pending: Record<StreamName, string[]> = { lite: [], full: [], domains: [] };
  private flushScheduled = false;
  private lastFlushAt = 0;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly now: () => number;
  private readonly recentMessages = new RecentMessages(25);
  private published = 0;
  private droppedTotal = 0;
  private closed = false;
  private readonly violationLog: RateLimitedLog;
  /** One line a minute while clients are closed for --clients-memory-bytes (the counter has every one). */
  private readonly memoryLog: RateLimitedLog;
  /** What the clients held at the last --clients-memory-bytes check, and what durable pumps wrote since. */
  private memoryChecked = 0;
  private memoryWritten = 0;
  private durable: DurableFanout | undefined;
  private window: ReplayWindow | undefined;
  /** `durable: 'later'` and attachDurable not called yet. */
  private durablePending: boolean;
  /** Seqs [start, end) of the window entries queued in `pending`, per stream. */
  private pendingSeqs: Record<StreamName, PendingSeqs | undefined> = { lite: undefined, full: undefined, domains: undefined };
  /** The entries (log, index) appended since the last flush, the first of them at seq `pendingBase`. */
  private pendingEntries: { log: string; index: number }[] = [];
  private pendingBase = 0;
  /** Seq stand-in for frames published without a log/index (tests): keeps the window's dedupe out of their way. */
  private anonymous = 0;
  /** Bytes queued in `pending`, per stream (for consumer pacing). */
  private pendingBytes: Record<StreamName, number> = { lite: 0, full: 0, domains: 0 };
  /** Consumer pacing of the ingest (ingest-pacing.ts). */
  private readonly pacing: IngestPacing;
  private readonly windowErrors: Counter;

  constructor(private readonly options: FanoutHubOptions) {
    super();
    this.now = options.now ?? Date.now;
    this.violationLog = new RateLimitedLog(options.logger, { now: this.now });
    this.memoryLog = new RateLimitedLog(options.logger, { now: this.now });
    this.pacing = new IngestPacing({ hasRoom: () => this.hasRoom(), slowClientTimeoutMs: options.slowClientTimeoutMs });
    this.wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: options.perMessageDeflate,
      maxPayload: options.maxPayloadBytes,
      clientTracking: false,
      // Pongs are sent by addClient, which can tell a ping flood apart (ws would terminate silently).
      autoPong: false,
    });
    // Every series of a fixed label set exists from start-up at 0 (increase() then sees the first event).
    for (const stream of STREAM_NAMES) {
      options.metrics.clients.set({ stream }, 0);
      options.metrics.droppedMessages.inc({ stream }, 0);
    }
    for (const reason of DISCONNECT_REASONS) options.metrics.clientDisconnects.inc({ reason }, 0);
    this.registerGauges();
    this.filters = new FilterSets({ metrics: options.metrics, maxSets: options.maxFilterSets, maxBytes: options.maxFilterBytes });
    this.windowErrors = new Counter({
      name: 'certstream_replay_window_append_errors_total',
      help: 'Entries the replay window failed to store (durable clients cannot receive them).',
      registers: [options.metrics.registry],
    });
    const sweep = options.sweepIntervalMs ?? Math.max(10, Math.min(1000, options.slowClientTimeoutMs / 4));
    this.timers.push(setInterval(() => this.sweep(), sweep));
    if (options.pingIntervalMs > 0) this.timers.push(setInterval(() => this.ping(), options.pingIntervalMs));
    if (options.heartbeatIntervalMs > 0) this.timers.push(setInterval(() => this.heartbeat(), options.heartbeatIntervalMs));
    for (const t of this.timers) t.unref();
    this.durablePending = options.durable === 'later';
    if (options.durable && options.durable !== 'later') this.attachDurable(options.durable);
  }

  /** Gives the hub its replay window and positions (once, before anything is published). */
  attachDurable(store: DurableStore): void {
    if (this.durable) throw new CertstreamError('STREAM_ERR_WIRING', 'FanoutHub: durable store already attached');
    const { metrics, logger, clientBufferBytes } = this.options;
    this.window = store.window;
    this.durablePending = false;
    this.durable = new DurableFanout({
      ...store,
      metrics,
      logger,
      // Smaller than a plain client's budget: what sits in buffers is written but unconfirmed, is what a
      // durable client may receive twice after a cut, and is memory: the rest waits in the window on disk.
      // The kernel's socket buffer holds as much again, so 1 MiB still fills a fast link.
      queueBytes: Math.min(clientBufferBytes, 1024 * 1024),
      maxPendingPongs: this.options.maxPendingPongs ?? DEFAULT_MAX_PENDING_PONGS,
      coverage: this.options.coverage ?? new VerifiedCoverage(),
      protocolViolation: (client, what) => this.protocolViolation(client, what),
      onWrite: (bytes) => this.notedWrite(bytes),
      now: this.now,
      onCount: (stream, delta) => this.setCount(stream, delta),
      onGone: (stream, reason) => {
        metrics.clientDisconnects.inc({ reason });
        this.emit('disconnect', stream, reason);
      },
    });
  }

  /**
   * Takes over an HTTP upgrade request for one of the stream paths.
   * @returns false when the path is not a stream (the caller answers 404)
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const stream = streamForPath(req.url);
    if (stream === undefined) return false;
    const query = parseSubscriptionQuery(req.url);
    // Closing, or a durable subscription in the moment between bind and the window's opening: retry.
    const windowed = !('error' in query) && (query.id !== undefined || query.since !== undefined || query.verified === true);
    if (this.closed || (this.durablePending && windowed)) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n');
      return true;
    }
    const refuse = 'error' in query ? query.error : windowed && !this.durable ? `${query.verified === true ? 'verified=1 needs' : 'id and since need'} the replay window, which is off` : undefined;
    if (refuse !== undefined) {
      // Clients show only "Handshake status 400": the reason is in the body and, once a minute, in the log.
      // A token in the query (clients send `?token=` where they cannot set headers) never reaches the log.
      const path = maskToken(req.url);
      this.violationLog.log('warn', 'refused subscription', 'stream request refused (HTTP 400)', { reason: refuse, path, remote: req.socket.remoteAddress });
      const body = `${refuse}\n`;
      socket.end(`HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      return true;
    }
    const q = query as Exclude<typeof query, { error: string }>;
    const refreshing = this.durable?.refreshPosition(req, stream, q);
    if (refreshing === undefined) this.admit(req, socket, head, stream, q);
    else {
      // Until ws takes the socket, a reset while the position is read must not be an uncaught error.
      const ignore = () => undefined;
      socket.on('error', ignore);
      void refreshing.then(() => {
        socket.off('error', ignore);
        if (this.closed || socket.destroyed) socket.destroy();
        else this.admit(req, socket, head, stream, q);
      });
    }
    return true;
  }

  /** Refuses what the bounds do not admit (a new NAME, a rule set too many), else upgrades and adds the client. */
  private admit(req: IncomingMessage, socket: Duplex, head: Buffer, stream: StreamName, q: SubscriptionQuery): void {
    if (this.durable?.refusesNewName(req, socket, stream, q)) return;
    const full = q.match === undefined ? undefined : this.filters.refusal(q.match);
    if (full !== undefined) {
      const body = `${full}\n`;
      socket.end(`HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nRetry-After: 60\r\nConnection: close\r\n\r\n${body}`);
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const filter = q.match === undefined ? undefined : this.useFilter(ws, stream, q.match);
      if (filter === null) return;
      if (this.durable && (q.id !== undefined || q.since !== undefined || q.verified === true)) {
        this.durable.add(ws, socket as Socket, stream, req, q, filter);
        this.emit('connect', stream);
      } else this.addClient(ws, socket as Socket, stream, req, filter);
    });
  }

  /**
   * The compiled set for a new client's rules, released when it closes; null when the bounds were
   * reached since the check before the upgrade (the client is closed with 1013, try again later).
   */
  private useFilter(ws: WebSocket, stream: StreamName, rules: FilterRules): FilterSet | null {
    const set = this.filters.acquire(rules, stream);
    if ('refused' in set) {
      ws.close(1013, 'too many match rule sets');
      return null;
    }
    this.filteredCounts[stream]++;
    ws.once('close', () => {
      this.filteredCounts[stream]--;
      this.filters.release(set, stream);
    });
    return set;
  }

  /** Queues one batch of certificates (in stream order); it is written on the next event-loop turn. */
  publish(frames: readonly StreamFrames[]): void {
    if (frames.length === 0 || this.closed) return;
    const window = this.window;
    if (window) {
      const entries = frames.map((f) => ({ ...f, log: f.log ?? '', index: f.index ?? this.anonymous++, seen: f.seen ?? this.now() / 1000 }));
      let seq = window.nextSeq;
      let appended: readonly unknown[] = [];
      try {
        ({ seq, appended } = window.append(entries));
        if (this.pendingEntries.length === 0) this.pendingBase = seq;
        for (const e of appended as readonly { log: string; index: number }[]) this.pendingEntries.push(e);
      } catch {
        // A failing disk must not cost the plain clients their frames: they still get them; durable
        // clients cannot (the window does not hold them), which is counted here and logged by the window
        // (once a minute, with the number suppressed).
        this.windowErrors.inc(frames.length);
      }
      for (const stream of STREAM_NAMES) {
        if (this.counts[stream] === 0) continue;
        const r = (this.pendingSeqs[stream] ??= { start: seq, end: seq, shared: true });
        r.end = seq + appended.length;
        // Entries the window already held (refetched after a kill -9) still go to plain clients, as
        // before; durable clients read this stretch from the window instead, without them.
        if (appended.length !== frames.length) r.shared = false;
      }
    }
    const lite = frames.map((f) => f.lite);
    this.recentMessages.addBatch(lite);
    this.published += frames.length;
    if (this.filters.size > 0) this.queueFiltered(frames);
    for (const stream of STREAM_NAMES) {
      // Frames are queued only for a stream with clients; their bytes count for the ingest's pacing always.
      const pending = this.counts[stream] > this.filteredCounts[stream] ? this.pending[stream] : undefined;
      let bytes = 0;
      for (const f of frames) {
        pending?.push(f[stream]);
        bytes += f[stream].length;
      }
      this.pendingBytes[stream] += bytes;
    }
    this.scheduleFlush();
  }

  /** Writes everything queued now (normally called by the scheduled flush). */
  flush(): void {
    this.flushScheduled = false;
    this.lastFlushAt = performance.now();
    const pending = this.pending;
    const seqs = this.pendingSeqs;
    const entries = this.pendingEntries;
    const base = this.pendingBase;
    this.pendingEntries = [];
    this.pending = { lite: [], full: [], domains: [] };
    this.pendingSeqs = { lite: undefined, full: undefined, domains: undefined };
    this.pendingBytes = { lite: 0, full: 0, domains: 0 };
    const now = this.now();
    // The entries of each stream's seqs, for verified=1 clients (every entry covered: the shared batch).
    const keys: Record<StreamName, readonly { log: string; index: number }[]> = { lite: [], full: [], domains: [] };
    for (const stream of STREAM_NAMES) {
      const r = seqs[stream];
      if (r !== undefined && r.end > r.start) keys[stream] = r.start === base && r.end - base === entries.length ? entries : entries.slice(r.start - base, r.end - base);
    }
    for (const stream of STREAM_NAMES) {
      const messages = pending[stream];
      if (messages.length === 0 || this.counts[stream] === this.filteredCounts[stream]) continue;
      this.send(stream, frameBatch(messages), seqs[stream], keys[stream], this.unfiltered, undefined, now);
    }
    for (const set of this.filters.values()) {
      const queued = set.pending;
      set.pending = { lite: [], full: [], domains: [] };
      for (const stream of STREAM_NAMES) {
        // A set whose entries all failed still moves its durable clients past them (an empty batch);
        // with no durable client, an empty batch has nothing to do (a thousand sets, every flush).
        if (set.clients[stream] === 0 || (queued[stream].length === 0 && (seqs[stream] === undefined || this.durable?.serves(set) !== true))) continue;
        this.send(stream, frameBatch(queued[stream]), seqs[stream], keys[stream], set.plain, set, now);
      }
    }
    this.limitMemory();
    this.wakeIngest();
  }

  /**
   * One stream's batch of a flush to its durable clients (with `filter`, or without any) and to `plain`,
   * for the window seqs `seqs` (undefined: none, or no window) whose entries are `entries`.
   */
  private send(stream: StreamName, batch: FrameBatch, seqs: PendingSeqs | undefined, entries: readonly { log: string; index: number }[], plain: Iterable<StreamClient>, filter: FilterSet | undefined, now: number): void {
    if (this.durable) {
      const head = this.window!.nextSeq;
      const r = seqs ?? { start: head, end: head, shared: true };
      this.durable.deliver(stream, batch, r.shared ? r.start : -1, r.end, filter, entries);
    }
    let dropped = 0;
    for (const client of plain) {
      if (client.stream === stream) dropped += client.send(batch, now);
    }
    if (dropped > 0) {
      this.droppedTotal += dropped;
      this.options.metrics.droppedMessages.inc({ stream }, dropped);
    }
  }

  /**
   * Queues each entry's frames for every compiled set it passes, on the streams the set has clients
   * of: its names are read once and matched once against all sets (FilterSets.matching), whatever the
   * number of clients.
   */
  private queueFiltered(frames: readonly StreamFrames[]): void {
    const hits: FilterSet[] = [];
    let matched = 0;
    for (const f of frames) {
      hits.length = 0;
      this.filters.matching(entryNames(f.domains), hits);
      if (hits.length > 0) matched++;
      for (const set of hits) {
        for (const stream of STREAM_NAMES) if (set.clients[stream] > 0) set.pending[stream].push(f[stream]);
      }
    }
    if (matched > 0) this.filters.matched.inc(matched);
  }

  /**
   * Consumer pacing for the ingest: undefined when it may hand on entries now — no plain client is
   * connected (full speed into the window), or one of them has room — else a promise that resolves
   * once one has (its socket drained, it left, or the hub closes).
   */
  roomForIngest(): Promise<void> | undefined {
    return this.pacing.room();
  }

  private hasRoom(): boolean {
    let plain = false;
    for (const c of this.clients) {
      if (!c.open) continue;
      plain = true;
      if (c.buffered + this.pendingBytes[c.stream] < this.options.clientBufferBytes / 2) return true;
    }
    return !plain;
  }

  private wakeIngest(): void {
    this.pacing.wake();
  }

  /** The recent lite messages (for /latest.json and /example.json). */
  get recent(): RecentMessages {
    return this.recentMessages;
  }

  stats(): HubStats {
    return { clients: { ...this.counts }, published: this.published, dropped: this.droppedTotal };
  }

  /** Number of connected clients, all streams. */
  get clientCount(): number {
    return this.counts.lite + this.counts.full + this.counts.domains;
  }

  /**
   * Closes every client with `code` (1001 going away), waits for them to go (terminating the ones
   * still there after `graceMs`), stops the timers.
   */
  async close(code = 1001, reason = 'server shutting down', graceMs = 1000): Promise<void> {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.durable?.stop();
    this.pacing.close();
    // Everything published reaches the clients that are reading before they are closed (bounded).
    await this.drain(this.now() + graceMs);
    const gone = [...this.clients, ...(this.durable?.clients ?? [])].map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.ws.readyState === c.ws.CLOSED) return resolve();
          c.ws.once('close', () => resolve());
          c.closeReason ??= 'shutdown';
          c.ws.close(code, reason);
        }),
    );
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(gone),
      new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          for (const c of this.clients) c.ws.terminate();
          for (const c of this.durable?.clients ?? []) c.ws.terminate();
          resolve();
        }, graceMs);
      }),
    ]);
    clearTimeout(timer);
    await Promise.all(gone);
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  /** Waits until every client's socket buffer is written and durable clients are at the head, or `deadline`. */
  private async drain(deadline: number): Promise<void> {
    await this.durable?.drain(deadline);
    while (this.now() < deadline && [...this.clients].some((c) => c.open && c.buffered > 0)) {
      await sleep(20);
    }
  }

  private addClient(ws: WebSocket, socket: Socket, stream: StreamName, req: IncomingMessage, filter: FilterSet | undefined): void {
    const remote = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`;
    const client = new StreamClient(ws, socket, stream, remote, this.options.clientBufferBytes, this.now());
    this.clients.add(client);
    const group = filter?.plain ?? this.unfiltered;
    group.add(client);
    this.setCount(stream, 1);
    let errored = false;
    ws.on('message', () => {
      client.alive = true;
    });
    ws.on('pong', () => {
      client.alive = true;
    });
    ws.on('ping', () => {
      client.alive = true;
    });
    answerPings(ws, client, this.options.maxPendingPongs ?? DEFAULT_MAX_PENDING_PONGS, (what) => this.protocolViolation(client, what));
    ws.on('error', (err) => {
      errored = true;
      const violation = protocolError(err);
      if (violation !== undefined) this.protocolViolation(client, violation);
      else this.options.logger.debug('client error', { stream, remote, err });
    });
    socket.on('drain', () => this.wakeIngest());
    ws.once('close', (code) => {
      this.clients.delete(client);
      group.delete(client);
      this.setCount(stream, -1);
      this.wakeIngest();
      const reason: DisconnectReason = client.closeReason ?? (errored ? 'error' : 'client');
      this.options.metrics.clientDisconnects.inc({ reason });
      this.options.logger.debug('client disconnected', { stream, remote, reason, code, dropped: client.dropped });
      this.emit('disconnect', stream, reason);
    });
    this.options.logger.debug('client connected', { stream, remote });
    this.emit('connect', stream);
  }

  /** Marks a client as closed for breaking the protocol (reason `protocol`); logged at most once a minute. */
  private protocolViolation(client: StreamClient | DurableClient, what: string): void {
    client.closeReason ??= 'protocol';
    this.violationLog.log('info', 'protocol', 'client closed: protocol violation', { stream: client.stream, remote: client.remote, violation: what });
  }

  /** Point-in-time gauges, computed when /metrics is scraped. */
  private registerGauges(): void {
    const clients = this.clients;
    const perStream = (name: string, help: string, value: (c: StreamClient) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['stream'] as const,
        registers: [this.options.metrics.registry],
        collect() {
          const sum: Record<StreamName, number> = { lite: 0, full: 0, domains: 0 };
          for (const c of clients) sum[c.stream] += value(c);
          for (const stream of STREAM_NAMES) this.set({ stream }, sum[stream]);
        },
      });
    perStream('certstream_client_buffered_bytes', 'Bytes accepted for clients but not yet written to their sockets, by stream.', (c) => c.buffered);
    const held = () => this.memoryHolders();
    new Gauge({
      name: 'certstream_clients_memory_bytes',
      help: 'Bytes queued for all clients together (plain and durable, closing ones included), held against --clients-memory-bytes.',
      registers: [this.options.metrics.registry],
      collect() {
        let total = 0;
        for (const c of held()) total += c.queued;
        this.set(total);
      },
    });
    perStream(
      'certstream_clients_over_budget',
      'Clients whose last batch did not fit their byte budget (they are losing frames), by stream.',
      (c) => (c.overSince !== undefined ? 1 : 0),
    );
  }

  private setCount(stream: StreamName, delta: number): void {
    this.counts[stream] += delta;
    this.options.metrics.clients.set({ stream }, this.counts[stream]);
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    const wait = this.lastFlushAt + this.flushInterval() - performance.now();
    if (wait <= 0) setImmediate(() => this.flush());
    else setTimeout(() => this.flush(), wait);
  }

  /** ms between flushes: the configured floor, or longer so that clients × flushes/s stays bounded. */
  private flushInterval(): number {
    const byClients = (1000 * this.clientCount) / (this.options.writesPerSecond ?? 25_000);
    return Math.max(this.options.flushIntervalMs ?? 10, Math.min(100, byClients));
  }

  private heartbeat(): void {
    const streams = STREAM_VARIANTS.filter((v) => v.heartbeats && this.counts[v.name] > 0);
    if (streams.length === 0) return;
    const frame = `{"message_type":"heartbeat","timestamp":${this.now() / 1000}}`;
    for (const v of streams) {
      if (this.counts[v.name] > this.filteredCounts[v.name]) this.pending[v.name].push(frame);
      for (const set of this.filters.values()) if (set.clients[v.name] > 0) set.pending[v.name].push(frame);
    }
    this.scheduleFlush();
  }

  private ping(): void {
    pingClients(this.clients, this.options.logger);
  }

  private sweep(): void {
    this.wakeIngest();
    closeLaggards(this.clients, this.now(), this.options.slowClientTimeoutMs, this.options.logger, (c, why) => this.closeSlow(c, why));
    this.limitMemory();
  }

  /** Every client that holds memory: plain and durable, closing ones included (they hold it until gone). */
  private *memoryHolders(): Generator<StreamClient | DurableClient> {
    yield* this.clients;
    if (this.durable) yield* this.durable.clients;
  }

  /**
   * --clients-memory-bytes: when the clients not already being closed hold more than the limit together,
   * closes the largest holders as slow until the others fit. Clients being closed keep their bytes until
   * their socket is gone (at most closeGraceMs) and are not counted again.
   */
  private limitMemory(): void {
    const limit = this.options.clientsMemoryBytes;
    if (limit === undefined) return;
    // Summed first, without allocating: this runs after every flush, and is almost always under.
    let total = 0;
    for (const client of this.memoryHolders()) if (client.closeReason === undefined) total += client.queued;
    this.memoryWritten = 0;
    this.memoryChecked = total;
    if (total <= limit) return;
    const holders: { client: StreamClient | DurableClient; queued: number }[] = [];
    for (const client of this.memoryHolders()) if (client.closeReason === undefined) holders.push({ client, queued: client.queued });
    const close = overMemoryLimit(holders, limit);
    let freed = 0;
    for (const { client, queued } of close) {
      freed += queued;
      this.closeSlow(client, 'too slow: over the server\'s memory for clients');
    }
    this.memoryChecked = total - freed;
    this.memoryLog.log('warn', 'memory', 'clients closed: all clients together held more than --clients-memory-bytes', {
      closed: close.length,
      queued_bytes: total,
      freed_bytes: freed,
      clients_memory_bytes: limit,
      largest: close.slice(0, 3).map(({ client, queued }) => ({ stream: client.stream, remote: client.remote, queued_bytes: queued })),
    });
  }

  /**
   * A durable pump wrote `bytes` between flushes: what the clients hold is at most what the last check
   * found plus what was written since (sockets only drain), so the full check runs only when that sum
   * passes the limit, and the bound holds at every write, not only at the next flush or sweep.
   */
  private notedWrite(bytes: number): void {
    const limit = this.options.clientsMemoryBytes;
    if (limit === undefined) return;
    this.memoryWritten += bytes;
    if (this.memoryChecked + this.memoryWritten > limit) this.limitMemory();
  }

  /** Closes a client as slow (1008, reason `slow`); one that does not take the close frame is terminated after closeGraceMs. */
  private closeSlow(client: StreamClient | DurableClient, why: string): void {
    client.closeReason = 'slow';
    client.ws.close(1008, why);
    const t = setTimeout(() => client.ws.terminate(), this.options.closeGraceMs ?? 2000);
    t.unref();
    client.ws.once('close', () => clearTimeout(t));
  }
}
