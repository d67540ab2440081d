/**
 * The hub's durable side: clients that read from the replay window (`?id=NAME`, `?since=`).
 *
 * Every published entry is in the window with its seq before the hub flushes it, so a durable client is
 * just a reader at `nextSeq`: behind, it pumps from the window (memory or disk) as fast as its socket
 * drains; caught up, it takes the hub's shared live batch (the same bytes as plain clients, no extra
 * framing). Both paths advance the same `nextSeq`, which is why the hand-over from replay to live has no
 * gap and no reordering: there is no hand-over, only one reader that is sometimes at the head.
 *
 * Positions: every `pingIntervalMs` each client gets a ping; the seq written before it becomes the
 * NAME's saved position when the pong arrives. A client is closed (`ping_timeout`) only when a ping
 * stays unanswered for `pongTimeoutMs` while the client also stopped reading (a slow reader with a full
 * socket buffer answers late, and is not dead).
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { Counter, Gauge } from 'prom-client';
import type { WebSocket } from 'ws';
import { describeError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { ServerMetrics } from '../metrics/server-metrics.js';
import type { StreamName } from './stream-paths.js';
import type { ReplayWindow } from '../replay/replay-window.js';
import { DurableClient } from './durable-client.js';
import type { DurablePositions } from './durable-positions.js';
import type { DisconnectReason } from './stream-client.js';
import { STREAM_NAMES } from './stream-paths.js';
import type { SubscriptionQuery } from './subscription-query.js';
import type { FrameBatch } from './ws-frame.js';

export interface DurableFanoutOptions {
  window: ReplayWindow;
  positions: DurablePositions;
  metrics: ServerMetrics;
  logger: Logger;
  /** Bytes a durable client may have buffered before its pump waits for the socket to drain. */
  budgetBytes: number;
  /** Pings that confirm positions, ms (--durable-ping-interval; default 5000). */
  pingIntervalMs: number;
  /** How long an unanswered ping is tolerated from a client that also stopped reading, ms (default max(3 pings, 30 s)). */
  pongTimeoutMs?: number;
  now: () => number;
  /** A client came or went (the hub's per-stream counts). */
  onCount(stream: StreamName, delta: number): void;
  /** A client is gone (the hub's event and counter). */
  onGone(stream: StreamName, reason: DisconnectReason): void;
}

/**
 * One read from the window, bytes of records (a lite frame is about a fifth of its record): large enough
 * that a replay is a few hundred reads a second, small enough that framing one takes about a millisecond
 * and does not hold up the live stream. A client's memory is bounded by its budget plus one such read
 * being written and one read ahead.
 */
const READ_CHUNK_BYTES = 4 * 1024 * 1024;

export class DurableFanout {
  readonly clients = new Set<DurableClient>();
  private readonly byName = new Map<string, DurableClient>();
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly replayed: Counter<'stream'>;
  private readonly truncated: Counter<'stream'>;

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
    if (options.pingIntervalMs > 0) {
      this.timer = setInterval(() => this.ping(), options.pingIntervalMs);
      this.timer.unref();
    }
  }

  /** Registers an upgraded connection; replay starts at once. */
  add(ws: WebSocket, socket: Socket, stream: StreamName, req: IncomingMessage, query: SubscriptionQuery): DurableClient {
    const { window, positions } = this.options;
    const live = window.nextSeq;
    const saved = query.id === undefined ? undefined : positions.get(query.id, stream);
    let start: number | Promise<number>;
    if (saved !== undefined) start = Math.min(saved, live);
    else if (query.since !== undefined) start = window.seqAtTime(query.since);
    else start = live;
    const remote = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`;
    const client = new DurableClient(ws, socket, stream, remote, query.id, typeof start === 'number' ? start : live, live);
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
    this.options.onCount(stream, 1);
    let errored = false;
    ws.on('pong', () => this.pong(client));
    // The hub's server answers pings itself (autoPong off); a durable client gets its pongs here.
    ws.on('ping', (data) => {
      if (ws.readyState === ws.OPEN) ws.pong(data, false);
    });
    ws.on('error', (err) => {
      errored = true;
      this.options.logger.debug('durable client error', { stream, remote, err });
    });
    ws.once('close', (code) => {
      this.clients.delete(client);
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
   * The hub's flush: `batch` holds this stream's frames for seqs [start, end) (plus heartbeats). A client
   * exactly at `start` with room takes it as is; any other reads from the window.
   */
  deliver(stream: StreamName, batch: FrameBatch, start: number, end: number): void {
    for (const c of this.clients) {
      if (c.stream !== stream || !c.open) continue;
      if (c.nextSeq === start && !c.pumping && !c.waitingDrain && c.buffered + batch.bytes.length <= this.options.budgetBytes) {
        c.write(batch);
        c.nextSeq = end;
      } else if (c.nextSeq < this.options.window.nextSeq) {
        this.pump(c);
      }
    }
  }

  /** Brings every client up to the window's head; resolves when done or at `deadline` (epoch ms). */
  async drain(deadline: number): Promise<void> {
    for (const c of this.clients) this.pump(c);
    while (this.options.now() < deadline) {
      let pending = false;
      for (const c of this.clients) if (c.open && (c.nextSeq < this.options.window.nextSeq || c.buffered > 0)) pending = true;
      if (!pending) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
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
      });
  }

  private async pumpLoop(c: DurableClient): Promise<void> {
    const { window, budgetBytes } = this.options;
    while (c.open && c.nextSeq < window.nextSeq) {
      if (c.buffered >= budgetBytes) {
        // Read the next chunk while the socket drains, so that the socket never waits for the disk.
        // Nothing else moves nextSeq meanwhile: deliver() and pump() leave a client waiting for drain alone.
        if (c.readAhead === undefined) {
          const ahead = window.read(c.stream, c.nextSeq, READ_CHUNK_BYTES);
          // A failure surfaces when the pump awaits it; until then it must not count as unhandled.
          if (ahead instanceof Promise) ahead.catch(() => undefined);
          c.readAhead = ahead;
        }
        c.waitingDrain = true;
        c.socket.once('drain', () => {
          c.waitingDrain = false;
          this.pump(c);
        });
        return;
      }
      const read = c.readAhead ?? window.read(c.stream, c.nextSeq, READ_CHUNK_BYTES);
      c.readAhead = undefined;
      const asked = c.nextSeq;
      const { first, next, batch } = read instanceof Promise ? await read : read;
      if (!c.open) return;
      if (next <= asked) {
        // Nothing read and nothing skipped: ask again only when the window's start moved meanwhile
        // (trimmed under the read); anything else would spin on the same seq forever.
        if (window.firstSeq > asked) continue;
        this.options.logger.error('durable client: the replay window made no progress, closing it', { stream: c.stream, remote: c.remote, id: c.name, seq: asked });
        c.closeReason = 'error';
        c.ws.close(1011, 'replay window read made no progress');
        return;
      }
      // Seqs not delivered: trimmed under a reader slower than the window is long (before `first`), or
      // left out by the window inside the batch (a damaged record, a vanished segment).
      const lost = next - asked - batch.ends.length;
      if (lost > 0) this.truncated.inc({ stream: c.stream }, lost);
      if (batch.ends.length > 0) c.write(batch);
      if (first < c.replayEnd) this.replayed.inc({ stream: c.stream }, Math.min(batch.ends.length, c.replayEnd - first));
      c.nextSeq = next;
    }
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
      c.pingSeq = c.nextSeq;
      c.pingSentAt = now;
      c.pingFlushed = c.flushed;
      c.ws.ping();
    }
  }

  private pong(c: DurableClient): void {
    if (c.pingSeq === undefined || c.closeReason !== undefined) return;
    if (c.name !== undefined) this.options.positions.set(c.name, c.stream, c.pingSeq);
    c.pingSeq = undefined;
  }
}
