/**
 * A WebSocket client for end-to-end tests that stays connected across daemon restarts: it reconnects
 * whenever the connection drops and records, per log (data.source.url), every cert_index it received,
 * in order. Waiting is event-driven: `waitFor(predicate)` re-checks on every frame and (re)connect.
 */
import { EventEmitter } from 'node:events';
import WebSocket from 'ws';

export class StreamCollector extends EventEmitter {
  /** cert_index values received per log url, in arrival order. */
  readonly indexes = new Map<string, number[]>();
  /** Successful WebSocket opens so far. */
  connects = 0;
  /** Whether a connection is open now. */
  open = false;
  heartbeats = 0;
  private ws: WebSocket | undefined;
  private stopped = false;
  private retry: NodeJS.Timeout | undefined;

  /** @param url ws://host:port/ of the stream */
  constructor(private readonly url: string) {
    super();
    this.setMaxListeners(0);
  }

  start(): void {
    this.connect();
  }

  private connect(): void {
    if (this.stopped) return;
    const ws = new WebSocket(this.url, { perMessageDeflate: false });
    this.ws = ws;
    ws.on('open', () => {
      this.connects += 1;
      this.open = true;
      this.emit('change');
    });
    ws.on('message', (data: WebSocket.RawData) => {
      const frame = JSON.parse(data.toString()) as {
        message_type?: string;
        data?: { cert_index?: number; source?: { url?: string } };
      };
      if (frame.message_type === 'certificate_update') {
        const log = frame.data?.source?.url ?? '?';
        const list = this.indexes.get(log) ?? [];
        list.push(frame.data?.cert_index ?? -1);
        this.indexes.set(log, list);
      } else if (frame.message_type === 'heartbeat') {
        this.heartbeats += 1;
      }
      this.emit('change');
    });
    ws.on('error', () => undefined); // 'close' follows and schedules the reconnect
    ws.on('close', () => {
      this.open = false;
      this.emit('change');
      // A short pause between attempts while the daemon is down (a backoff, not a synchronisation).
      if (!this.stopped) this.retry = setTimeout(() => this.connect(), 100);
    });
  }

  /** Entries received for `log` (matched with or without a trailing slash). */
  received(log: string): number[] {
    const norm = (u: string): string => u.replace(/\/+$/, '');
    for (const [k, v] of this.indexes) if (norm(k) === norm(log)) return v;
    return [];
  }

  /** Resolves once `predicate()` holds (checked now and on every frame or connection change). */
  waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!predicate()) return;
        clearTimeout(timer);
        this.off('change', check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.off('change', check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.on('change', check);
      check();
    });
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retry);
    this.ws?.terminate();
  }
}
