/**
 * A certstream WebSocket client for failover tests. It records, per connection, every (source.url,
 * cert_index) it receives with its arrival time, counts closes, and — when `reconnect` is on — connects
 * again (every 20 ms while refused) to whatever URL `url()` returns then, so a test can move a durable
 * client from a killed edge to the other one just by changing what `url()` answers.
 */
import { WebSocket } from 'ws';
import { ConditionWaiters } from '../../support/wait-until.js';

interface Frame {
  message_type: string;
  data: { cert_index: number; source: { url: string } };
}

/** What one connection received: per log, indexes and arrival times (ms) in arrival order. */
export class ConnectionRecord {
  readonly indexes = new Map<string, number[]>();
  readonly times = new Map<string, number[]>();
  closedAt: number | undefined;
  /** WebSocket pings received (a durable client's position is confirmed by answering them; `ws` answers itself). */
  pings = 0;
  constructor(readonly url: string) {}
}

export class RecordingFeed {
  readonly connections: ConnectionRecord[] = [];
  /** Closes of an open connection that the test did not ask for. */
  closes = 0;
  private ws: WebSocket | undefined;
  private stopped = false;
  private readonly waiters = new ConditionWaiters();

  constructor(
    private readonly url: () => string,
    private readonly reconnect = true,
  ) {
    this.open();
  }

  /** Every index received for `log` over all connections (a Set: repeats collapse). */
  received(log: string): Set<number> {
    const out = new Set<number>();
    for (const c of this.connections) for (const i of c.indexes.get(log) ?? []) out.add(i);
    return out;
  }

  /** Frames of `log` received more than once. */
  repeats(log: string): number {
    let total = 0;
    for (const c of this.connections) total += (c.indexes.get(log) ?? []).length;
    return total - this.received(log).size;
  }

  /** Sum of received(log).size over `logs`. */
  total(logs: readonly string[]): number {
    return logs.reduce((n, l) => n + this.received(l).size, 0);
  }

  /** True when every connection received each log's indexes in strictly increasing order. */
  increasingPerConnection(): boolean {
    return this.connections.every((c) => [...c.indexes.values()].every((ix) => ix.every((v, i) => i === 0 || v > ix[i - 1])));
  }

  get connected(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  /** Resolves once `cond` holds (re-checked on every frame, open and close), or rejects after `ms`. */
  until(what: string, ms: number, cond: () => boolean, detail: () => string = () => ''): Promise<void> {
    return this.waiters.until(what, ms, cond, detail);
  }

  close(): void {
    this.stopped = true;
    this.ws?.terminate();
  }

  private wake(): void {
    this.waiters.notify();
  }

  private open(): void {
    if (this.stopped) return;
    const url = this.url();
    const ws = new WebSocket(url);
    this.ws = ws;
    const record = new ConnectionRecord(url);
    let opened = false;
    ws.once('open', () => {
      opened = true;
      this.connections.push(record);
      this.wake();
    });
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data)) as Frame;
      if (frame.message_type !== 'certificate_update') return;
      const log = frame.data.source.url;
      if (!record.indexes.has(log)) {
        record.indexes.set(log, []);
        record.times.set(log, []);
      }
      record.indexes.get(log)!.push(frame.data.cert_index);
      record.times.get(log)!.push(Date.now());
      this.wake();
    });
    ws.on('ping', () => {
      record.pings++;
      this.wake();
    });
    ws.on('error', () => undefined);
    ws.once('close', () => {
      if (opened) record.closedAt = Date.now();
      if (this.stopped) return;
      if (opened) this.closes++;
      this.wake();
      if (this.reconnect) setTimeout(() => this.open(), 20).unref();
    });
  }
}

/**
 * Resolves with the HTTP status a WebSocket upgrade to `url` was refused with (or 101 when accepted,
 * closing that socket again); bounded by `ms`.
 */
export function upgradeStatus(url: string, ms = 10_000): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const timer = setTimeout(() => (ws.terminate(), reject(new Error(`no answer to the upgrade of ${url} in ${ms} ms`))), ms);
    ws.once('unexpected-response', (_req, res) => {
      clearTimeout(timer);
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.once('open', () => {
      clearTimeout(timer);
      resolve(101);
      ws.terminate();
    });
    ws.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}
