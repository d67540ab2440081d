/**
 * A durable certstream client for tests: connects to a stream URL with `?id=`, reconnects whenever the
 * connection drops (every 20 ms while refused), and records each connection's (log, cert_index) in order.
 */
import { WebSocket } from 'ws';
import { ConditionWaiters } from './wait-until.js';

export class DurableFeed {
  /** Per connection: log url → indexes in arrival order. */
  readonly connections: Map<string, number[]>[] = [];
  private ws: WebSocket | undefined;
  private stopped = false;
  private readonly waiters = new ConditionWaiters();

  constructor(private readonly url: () => string) {
    this.open();
  }

  /** Every index received for `log`, over all connections (a Set: duplicates collapse). */
  received(log: string): Set<number> {
    const out = new Set<number>();
    for (const c of this.connections) for (const i of c.get(log) ?? []) out.add(i);
    return out;
  }

  /** How many frames arrived more than once (the unconfirmed tails). */
  duplicates(log: string): number {
    let total = 0;
    for (const c of this.connections) total += (c.get(log) ?? []).length;
    return total - this.received(log).size;
  }

  /** Resolves once `cond` holds (re-checked on every frame), or rejects after `ms`. */
  until(what: string, ms: number, cond: () => boolean): Promise<void> {
    return this.waiters.until(what, ms, cond);
  }

  get connected(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  close(): void {
    this.stopped = true;
    this.ws?.terminate();
  }

  private open(): void {
    if (this.stopped) return;
    const ws = new WebSocket(this.url());
    this.ws = ws;
    let current: Map<string, number[]> | undefined;
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data)) as { message_type: string; data: { cert_index: number; source: { url: string } } };
      if (frame.message_type !== 'certificate_update') return;
      if (current === undefined) {
        current = new Map();
        this.connections.push(current);
      }
      const url = frame.data.source.url;
      if (!current.has(url)) current.set(url, []);
      current.get(url)!.push(frame.data.cert_index);
      this.waiters.notify();
    });
    ws.on('error', () => undefined);
    ws.once('close', () => {
      if (this.stopped) return;
      setTimeout(() => this.open(), 20).unref();
    });
  }
}

/** True when every connection received each log's indexes in strictly increasing order. */
export function increasingPerConnection(feed: DurableFeed): boolean {
  return feed.connections.every((c) => [...c.values()].every((ix) => ix.every((v, i) => i === 0 || v > ix[i - 1])));
}
