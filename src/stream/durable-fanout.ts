/**
 * The hub's durable side: clients that read from the replay window (`?id=NAME`, `?since=`).
 *
 * Every published entry is in the window with its seq before the hub flushes it, so a durable client is
 * just a reader at `nextSeq`: behind, it pumps from the window (memory or disk) as fast as its socket
 * drains; caught up, it takes the hub's shared live batch (the same bytes as plain clients, no extra
 * framing). Both paths advance the same `nextSeq`, which is why the hand-over from replay to live has no
 * gap and no reordering: there is no hand-over, only one reader that is sometimes at the head.
 *
 * Memory: a client keeps at most `queueBytes` (1 MiB) queued, reads included — each read asks for the
 * room left, and the pump waits for the socket to drain when there is none — and at most
 * MAX_CONCURRENT_READS window reads run at once over all clients, so 200 clients that never read hold
 * about 200 MiB, not 2 GB. The hub closes the largest holders when all clients together pass
 * --clients-memory-bytes (clients-memory.ts).
 *
 * Positions: every `pingIntervalMs` each client gets a ping with a payload of its own; the seq written
 * before it becomes the NAME's saved position when the pong carrying that payload arrives (any other pong
 * is unsolicited and confirms nothing). A client is closed (`ping_timeout`) only when a ping stays
 * unanswered for `pongTimeoutMs` while the client also stopped reading (a slow reader with a full socket
 * buffer answers late, and is not dead). The client's own pings are answered with the plain clients'
 * flood limit (ping-guard.ts).
 */
import { sleep } from '../ct/backoff.js';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { Counter, Gauge } from 'prom-client';
import type { WebSocket } from 'ws';
import { describeError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { RateLimitedLog } from '../log/rate-limited.js';
import type { ServerMetrics } from '../metrics/server-metrics.js';
import type { StreamName } from './stream-paths.js';
import type { ReplayBatch, ReplayWindow } from '../replay/replay-window.js';
import { ownedQuery } from '../access/request-owner.js';
import { DurableClient } from './durable-client.js';
import type { DurablePositions } from './durable-positions.js';
import { matchingFrames } from './filter-replay.js';
import type { FilterSet } from './filter-sets.js';
import type { DisconnectReason } from './stream-client.js';
import { answerPings, isAnswer, pingPayload, protocolError } from './ping-guard.js';
import { STREAM_NAMES } from './stream-paths.js';
import type { SubscriptionQuery } from './subscription-query.js';
import type { VerifiedCoverage } from './verified-coverage.js';
import { heartbeatFrames, VerifiedReader, VerifiedSelections } from './verified-reader.js';
import type { FrameBatch } from './ws-frame.js';

export interface DurableFanoutOptions {
  window: ReplayWindow;
  positions: DurablePositions;
  metrics: ServerMetrics;
  logger: Logger;
  /** Bytes a durable client may keep queued (unwritten frames, reads included); its pump waits for the socket to drain beyond. */
  queueBytes: number;
  /** Unwritten pongs a client may pile up by pinging without reading before it is terminated (ping-guard.ts). */
  maxPendingPongs: number;
  /** A client broke the protocol or a limit (ping flood, invalid frame): records `protocol` as its close reason and logs it. */
  protocolViolation(client: DurableClient, what: string): void;
  /** Pings that confirm positions, ms (--durable-ping-interval; default 5000). */
  pingIntervalMs: number;
  /** How long an unanswered ping is tolerated from a client that also stopped reading, ms (default max(3 pings, 30 s)). */
  pongTimeoutMs?: number;
  now: () => number;
  /** A client came or went (the hub's per-stream counts). */
  onCount(stream: StreamName, delta: number): void;
  /** A client is gone (the hub's event and counter). */
  onGone(stream: StreamName, reason: DisconnectReason): void;
  /** A pump wrote `bytes` from the window (outside the hub's flush): the hub's --clients-memory-bytes check. */
  onWrite(bytes: number): void;
  /** How far each log is proven, for `verified=1` clients (the hub gives an empty one when nothing feeds it). */
  coverage: VerifiedCoverage;
}

/**
 * Most bytes of records one window read asks for (a frame is never larger than its record; a lite frame
 * is about a fifth of it): large enough that a replay is a few hundred reads a second, small enough that
 * framing one does not hold up the live stream. A read asks for the client's room, up to this.
 */
const READ_CHUNK_BYTES = 1024 * 1024;
/** A room smaller than this (or a quarter of the queue) is not worth a read: the pump waits for the socket to drain. */
const MIN_READ_BYTES = 64 * 1024;
/**
 * Window reads in flight at once, over all clients. The local window reads disk into a 4 MiB buffer
 * whatever the size asked, reusing two of them (local-replay-window.ts, MAX_SPARES); every further read
 * in flight allocated 4 MiB of its own, 800 MB when 200 clients started a replay together. Two, as
 * many as it keeps spare, allocate nothing more, and keep the disk busy while the event loop frames the
 * previous read (a replay to 4 reading clients was not slower than with unbounded reads).
 */
const MAX_CONCURRENT_READS = 2;
/** verified=1 reads kept for other clients (each at most READ_CHUNK_BYTES of frames). */
const VERIFIED_READS = 16;

export class DurableFanout {
  readonly clients = new Set<DurableClient>();
  /** The clients by `match=` set (undefined: unfiltered): a flush's batch for one set goes to its clients alone. */
  private readonly byFilter = new Map<FilterSet | undefined, Set<DurableClient>>();
  private readonly byName = new Map<string, DurableClient>();
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly replayed: Counter<'stream'>;
  private readonly truncated: Counter<'stream'>;
  private readonly refused: Counter;
  private readonly refusedLog: RateLimitedLog;
  /** Window reads in flight, and the pumps waiting for one of the MAX_CONCURRENT_READS slots. */
  private reading = 0;
  private readonly readWaiters: (() => void)[] = [];
  /**
   * verified=1 clients' recent window reads, by stream and seq: clients in the same state read the same
   * seqs after the same event (a log proven further), and a read from the window frames (inflates) every
   * record, from disk when the log was held long, so they share one; each then selects its frames from
   * it. A read stays right: the window's entries never change (one taken at the head is only shorter
   * than a read now, and its reader goes on from its end). At most VERIFIED_READS are kept.
   */
  private readonly verifiedReads = new Map<string, ReplayBatch | Promise<ReplayBatch>>();
  private readonly selections = new VerifiedSelections();

  constructor(private readonly options: DurableFanoutOptions) {
    const registers = [options.metrics.registry];
    const { window, positions } = options;
    const clients = this.clients;
    this.replayed = new Counter({
      name: 'certstream_replayed_messages_total',
      help: 'Frames sent to durable and since clients that were published before they connected, by stream.',
      labelNames: ['stream'] as const,
      registers,
    });
    this.truncated = new Counter({
      name: 'certstream_resume_truncated_messages_total',
      help: 'Frames a resume asked for that the replay window no longer held, by stream.',
      labelNames: ['stream'] as const,
      registers,
    });
    this.refused = new Counter({
      name: 'certstream_durable_subscriptions_refused_total',
      help: 'Durable subscriptions with a new NAME refused (HTTP 503) because --max-durable-subscriptions positions are kept.',
      registers,
    });
    this.refusedLog = new RateLimitedLog(options.logger, { now: options.now });
    for (const stream of STREAM_NAMES) {
      this.replayed.inc({ stream }, 0);
      this.truncated.inc({ stream }, 0);
    }
    new Gauge({
      name: 'certstream_durable_subscriptions',
      help: 'Durable subscription positions kept (NAME and stream).',
      registers,
      collect() {
        this.set(positions.size);
      },
    });
    new Gauge({
      name: 'certstream_durable_lag_messages',
      help: 'Frames published but not yet written to connected durable clients, summed by stream.',
      labelNames: ['stream'] as const,
      registers,
      collect() {
        const sum: Record<StreamName, number> = { lite: 0, full: 0, domains: 0 };
        for (const c of clients) sum[c.stream] += Math.max(0, window.nextSeq - c.nextSeq);
        for (const stream of STREAM_NAMES) this.set({ stream }, sum[stream]);
      },
    });
    const now = options.now;
    new Gauge({
      name: 'certstream_replay_window_seconds',
      help: 'Age of the oldest replayable frame, seconds (0 when the window is empty).',
      registers,
      collect() {
        const oldest = window.oldestSeen;
        this.set(oldest === undefined ? 0 : Math.max(0, now() / 1000 - oldest));
      },
    });
    new Gauge({
      name: 'certstream_replay_window_bytes',
      help: 'Bytes the replay window holds on disk.',
      registers,
      collect() {
        this.set(window.bytes);
      },
    });
    // A log proven further (or given up): verified=1 clients holding logs back read on.
    options.coverage.onChange(() => {
      for (const c of clients) {
        if (c.verified === undefined || c.verified.held.size === 0) continue;
        // A pump under way may have judged its held logs before this change: it looks again when done.
        if (c.pumping) c.verified.recheck = true;
        else this.pump(c);
      }
    });
    if (options.pingIntervalMs > 0) {
      this.timer = setInterval(() => this.ping(), options.pingIntervalMs);
      this.timer.unref();
    }
  }

  /**
   * Brings the client's saved position up to date before it is used, where other servers write the
   * positions too (NATS edges); undefined when there is nothing to wait for.
   */
  refreshPosition(req: IncomingMessage, stream: StreamName, asked: SubscriptionQuery): Promise<void> | undefined {
    const query = ownedQuery(req, asked);
    return query.id === undefined ? undefined : this.options.positions.refresh?.(query.id, stream);
  }

  /**
   * Answers 503 (one line, counted, logged at most once a minute) to a NAME the positions do not hold
   * when they hold --max-durable-subscriptions already; NAMEs they hold are always admitted.
   * @returns true when the request was refused (and the socket answered)
   */
  refusesNewName(req: IncomingMessage, socket: Duplex, stream: StreamName, asked: SubscriptionQuery): boolean {
    const { positions } = this.options;
    const query = ownedQuery(req, asked); // the key the positions hold: TOKEN/id with tokens
    if (query.id === undefined || positions.admits(query.id, stream)) return false;
    this.refused.inc();
    this.refusedLog.log('warn', 'max-durable', 'durable subscription refused (HTTP 503): --max-durable-subscriptions positions are kept', { stream, id: query.id, positions: positions.size, remote: req.socket.remoteAddress });
    const body = 'too many durable subscriptions on this server (--max-durable-subscriptions); retry later or reuse a NAME\n';
    socket.end(`HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    return true;
  }

  /** Registers an upgraded connection; replay starts at once. */
  add(ws: WebSocket, socket: Socket, stream: StreamName, req: IncomingMessage, asked: SubscriptionQuery, filter?: FilterSet): DurableClient {
    const { window, positions } = this.options;
    // With tokens the NAME is the token's (`TOKEN/id`): its key in the positions and for takeover.
    const query = ownedQuery(req, asked);
    const live = window.nextSeq;
    const saved = query.id === undefined ? undefined : positions.get(query.id, stream);
    let start: number | Promise<number>;
    if (saved !== undefined) start = Math.min(saved, live);
    else if (query.since !== undefined) start = window.seqAtTime(query.since);
    else start = live;
    const remote = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`;
    const verified = query.verified === true ? new VerifiedReader(this.options.coverage) : undefined;
    const client = new DurableClient(ws, socket, stream, remote, query.id, typeof start === 'number' ? start : live, live, filter, verified);
    const begin = (from: number) => {
      if (from < window.firstSeq) {
        this.truncated.inc({ stream }, window.firstSeq - from);
        this.options.logger.info('durable resume older than the replay window', { stream, id: query.id, lost: window.firstSeq - from });
        from = window.firstSeq;
      }
      client.nextSeq = from;
      // A name the server did not know starts here: remember it now, so that a cut before the first
      // pong resumes from this point rather than live.
      if (query.id !== undefined && saved === undefined) positions.set(query.id, stream, from);
    };
    // A known name that connects is used: its position lives on (--durable-expire counts from now).
    if (query.id !== undefined && saved !== undefined) positions.touch(query.id, stream);
    if (typeof start === 'number') begin(start);
    else {
      // The window looks the time up elsewhere: the client waits (nothing delivered, no pump) until it knows.
      client.pumping = true;
      client.starting = true;
      start.then(
        (from) => {
          client.pumping = false;
          client.starting = false;
          if (!client.open) return;
          begin(from);
          this.options.logger.debug('durable client starts', { stream, remote, id: query.id, from_seq: client.nextSeq });
          this.pump(client);
        },
        (err: unknown) => {
          client.pumping = false;
          client.starting = false;
          this.options.logger.warn('durable client: cannot find where since starts, closing it', { stream, remote, error: describeError(err) });
          client.closeReason = 'error';
          ws.close(1011, 'replay window unavailable');
        },
      );
    }
    if (query.id !== undefined) {
      const key = `${stream}\n${query.id}`;
      const older = this.byName.get(key);
      if (older !== undefined) {
        older.closeReason = 'takeover';
        older.ws.close(1008, 'taken over by a newer connection with the same id');
        const t = setTimeout(() => older.ws.terminate(), 2000);
        t.unref();
        older.ws.once('close', () => clearTimeout(t));
      }
      this.byName.set(key, client);
    }
    this.clients.add(client);
    let group = this.byFilter.get(filter);
    if (group === undefined) this.byFilter.set(filter, (group = new Set()));
    group.add(client);
    this.options.onCount(stream, 1);
    let errored = false;
    ws.on('pong', (data) => this.pong(client, data));
    // The hub's server answers pings itself (autoPong off), with the plain clients' flood limit.
    answerPings(ws, client, this.options.maxPendingPongs, (what) => this.options.protocolViolation(client, what));
    ws.on('error', (err) => {
      errored = true;
      const violation = protocolError(err);
      if (violation !== undefined) this.options.protocolViolation(client, violation);
      else this.options.logger.debug('durable client error', { stream, remote, err });
    });
    ws.once('close', (code) => {
      this.clients.delete(client);
      group.delete(client);
      if (group.size === 0 && this.byFilter.get(filter) === group) this.byFilter.delete(filter);
      if (query.id !== undefined && this.byName.get(`${stream}\n${query.id}`) === client) this.byName.delete(`${stream}\n${query.id}`);
      this.options.onCount(stream, -1);
      const reason: DisconnectReason = client.closeReason ?? (errored ? 'error' : 'client');
      this.options.onGone(stream, reason);
      this.options.logger.debug('durable client disconnected', { stream, remote, id: query.id, reason, code, next_seq: client.nextSeq });
    });
    this.options.logger.debug('durable client connected', { stream, remote, id: query.id, from_seq: client.nextSeq, live_seq: live });
    this.pump(client);
    return client;
  }

  /**
   * The hub's flush: `batch` holds this stream's frames for seqs [start, end) (plus heartbeats) that
   * pass `filter` (undefined: every frame); `entries` are the entries of those seqs. A client of that
   * stream and filter exactly at `start` with room takes it as is (a verified=1 client: when every entry
   * is covered and it holds no log back); any other reads from the window.
   */
  deliver(stream: StreamName, batch: FrameBatch, start: number, end: number, filter: FilterSet | undefined, entries: readonly { log: string; index: number }[]): void {
    const group = this.byFilter.get(filter);
    if (group === undefined) return;
    let beats: FrameBatch | undefined;
    for (const c of group) {
      if (c.stream !== stream || !c.open) continue;
      if (c.nextSeq === start && !c.pumping && !c.waitingDrain && c.buffered + batch.bytes.length <= this.options.queueBytes && (c.verified?.takes(entries) ?? true)) {
        c.write(batch);
        c.nextSeq = end;
        continue;
      }
      // A verified=1 client holding entries back still gets the heartbeats, as plain clients do.
      if (c.verified !== undefined) {
        beats ??= heartbeatFrames(batch);
        if (beats.ends.length > 0) c.write(beats);
      }
      if (c.nextSeq < this.options.window.nextSeq) this.pump(c);
    }
  }

  /** Whether any client of `filter` (undefined: unfiltered) is connected. */
  serves(filter: FilterSet | undefined): boolean {
    return this.byFilter.has(filter);
  }

  /** Brings every client up to the window's head; resolves when done or at `deadline` (epoch ms). */
  async drain(deadline: number): Promise<void> {
    for (const c of this.clients) this.pump(c);
    while (this.options.now() < deadline) {
      let pending = false;
      for (const c of this.clients) if (c.open && (c.nextSeq < this.options.window.nextSeq || c.buffered > 0)) pending = true;
      if (!pending) return;
      await sleep(20);
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Reads from the window and writes while the client has room; re-arms on the socket's drain. */
  private pump(c: DurableClient): void {
    if (c.pumping || c.waitingDrain || !c.open) return;
    c.pumping = true;
    this.pumpLoop(c)
      .catch((err: unknown) => {
        this.options.logger.error('durable client: replay window read failed, closing it', { stream: c.stream, remote: c.remote, error: describeError(err) });
        c.closeReason = 'error';
        c.ws.close(1011, 'replay window read failed');
      })
      .finally(() => {
        c.pumping = false;
        if (c.verified?.recheck === true) {
          c.verified.recheck = false;
          this.pump(c);
        }
      });
  }

  private async pumpLoop(c: DurableClient): Promise<void> {
    const { window, queueBytes } = this.options;
    const minRead = Math.min(MIN_READ_BYTES, Math.ceil(queueBytes / 4));
    for (;;) {
      // A verified=1 client first scans again for held logs that became covered, then reads forward.
      const rescan = c.verified?.nextRescan(c.nextSeq);
      if (!c.open || (rescan === undefined && c.nextSeq >= window.nextSeq)) return;
      const room = queueBytes - c.buffered;
      if (room < minRead) {
        this.waitForRoom(c);
        return;
      }
      const slot = this.readSlot();
      if (slot !== undefined) await slot;
      const asked = rescan?.at ?? c.nextSeq;
      let read: ReplayBatch;
      try {
        if (!c.open) return;
        // Nothing moves nextSeq while the pump runs (deliver() leaves a pumping client alone).
        const r = c.verified === undefined ? window.read(c.stream, asked, Math.min(READ_CHUNK_BYTES, Math.max(1, queueBytes - c.buffered))) : this.verifiedRead(c.stream, asked);
        read = r instanceof Promise ? await r : r;
      } finally {
        this.releaseReadSlot();
      }
      if (!c.open) return;
      const { first, next } = read;
      const proven = c.verified === undefined ? read : this.selections.select(c.verified, read, rescan, c.nextSeq);
      const batch = c.filter === undefined ? proven.batch : matchingFrames(c.stream, proven, c.filter);
      if (next <= asked) {
        // Nothing read and nothing skipped: ask again only when the window's start moved meanwhile
        // (trimmed under the read); anything else would spin on the same seq forever.
        if (window.firstSeq > asked) continue;
        this.options.logger.error('durable client: the replay window made no progress, closing it', { stream: c.stream, remote: c.remote, id: c.name, seq: asked });
        c.closeReason = 'error';
        c.ws.close(1011, 'replay window read made no progress');
        return;
      }
      if (batch.ends.length > 0) {
        c.write(batch);
        this.options.onWrite(batch.bytes.length);
      }
      if (rescan !== undefined) {
        // Seqs up to nextSeq only: the forward read has not looked past it yet.
        rescan.at = Math.min(next, c.nextSeq);
        continue;
      }
      // Seqs not delivered: trimmed under a reader slower than the window is long (before `first`), or
      // left out by the window inside the batch (a damaged record, a vanished segment).
      const lost = next - asked - read.batch.ends.length;
      if (lost > 0) this.truncated.inc({ stream: c.stream }, lost);
      if (first < c.replayEnd) this.replayed.inc({ stream: c.stream }, Math.min(batch.ends.length, c.replayEnd - first));
      c.nextSeq = next;
    }
  }

  /**
   * Pumps again once the socket has taken what is queued ('drain'). A socket that does not wait for a
   * drain (what is queued sits in ws's sender, compressing) is looked at again shortly instead.
   * Nothing else moves nextSeq meanwhile: deliver() and pump() leave a client waiting for room alone.
   */
  private waitForRoom(c: DurableClient): void {
    c.waitingDrain = true;
    let timer: NodeJS.Timeout | undefined;
    const resume = () => {
      c.socket.off('drain', resume);
      clearTimeout(timer);
      c.waitingDrain = false;
      this.pump(c);
    };
    if (c.socket.writableNeedDrain) c.socket.once('drain', resume);
    else timer = setTimeout(resume, 10);
  }

  /**
   * A verified=1 client's read of READ_CHUNK_BYTES with the frames' entries, shared with the other such
   * clients that read the same seq.
   */
  private verifiedRead(stream: StreamName, from: number): ReplayBatch | Promise<ReplayBatch> {
    const key = `${stream}:${from}`;
    let r = this.verifiedReads.get(key);
    if (r === undefined) {
      if (this.verifiedReads.size >= VERIFIED_READS) this.verifiedReads.delete(this.verifiedReads.keys().next().value!);
      r = this.options.window.read(stream, from, READ_CHUNK_BYTES, true);
      // A failed read is not kept: the next client asks the window again.
      if (r instanceof Promise) r.catch(() => this.verifiedReads.get(key) === r && this.verifiedReads.delete(key));
      this.verifiedReads.set(key, r);
    }
    return r;
  }

  /** Takes one of the MAX_CONCURRENT_READS read slots: at once (undefined) or when one is free. */
  private readSlot(): Promise<void> | undefined {
    if (this.reading < MAX_CONCURRENT_READS) {
      this.reading++;
      return undefined;
    }
    return new Promise((resolve) => this.readWaiters.push(resolve));
  }

  /** Gives a read slot back: to the next waiting pump, or free. */
  private releaseReadSlot(): void {
    const next = this.readWaiters.shift();
    if (next !== undefined) next();
    else this.reading--;
  }

  private ping(): void {
    const now = this.options.now();
    const timeout = this.options.pongTimeoutMs ?? Math.max(3 * this.options.pingIntervalMs, 30_000);
    for (const c of this.clients) {
      if (!c.open || c.starting) continue;
      if (c.pingSeq !== undefined) {
        if (now - c.pingSentAt < timeout) continue;
        // Still reading (the kernel took more bytes): slow, not dead; give it another period.
        if (c.flushed > c.pingFlushed) {
          c.pingSentAt = now;
          c.pingFlushed = c.flushed;
          continue;
        }
        c.closeReason = 'ping_timeout';
        this.options.logger.info('durable client terminated: no pong', { stream: c.stream, remote: c.remote, id: c.name });
        c.ws.terminate();
        continue;
      }
      c.pingSeq = c.position;
      c.pingPayload = pingPayload();
      c.pingSentAt = now;
      c.pingFlushed = c.flushed;
      c.ws.ping(c.pingPayload);
    }
  }

  /** Confirms the outstanding ping's seq when `data` answers it; an unsolicited pong confirms nothing. */
  private pong(c: DurableClient, data: Buffer): void {
    if (c.pingSeq === undefined || c.closeReason !== undefined || !isAnswer(data, c.pingPayload)) return;
    if (c.name !== undefined) this.options.positions.set(c.name, c.stream, c.pingSeq);
    c.pingSeq = undefined;
    c.pingPayload = undefined;
  }
}
