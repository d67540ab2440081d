/**
 * A fake certstream feed for certaudit tests: a real `ws` server on 127.0.0.1, port 0, that sends
 * `certificate_update` frames in the calidog format for whatever (log, index) the test asks for, and
 * can close its clients and refuse new ones for a window — so a test knows exactly which entries a
 * client could have seen. Everything is driven by the test; nothing runs on timers.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { WAIT_MS, withDeadline } from './deadline.js';

/** A realistic lite frame (calidog shape, minimal leaf_cert) for one entry. */
export function certificateUpdate(logUrl: string, index: number, seen = 1730205715.758093): string {
  return JSON.stringify({
    message_type: 'certificate_update',
    data: {
      cert_index: index,
      cert_link: `${logUrl}ct/v1/get-entries?start=${index}&end=${index}`,
      leaf_cert: {
        all_domains: [`host${index}.example.com`],
        extensions: { subjectAltName: `DNS:host${index}.example.com` },
        fingerprint: '00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33',
        not_after: 1767225600,
        not_before: 1735689600,
        serial_number: index.toString(16).toUpperCase(),
        subject: { CN: `host${index}.example.com`, aggregated: `/CN=host${index}.example.com` },
      },
      seen,
      source: { name: `Fake log ${logUrl}`, url: logUrl },
      update_type: 'X509LogEntry',
    },
  });
}

export class FakeFeed {
  readonly url: string;
  private readonly http: Server;
  private readonly wss: WebSocketServer;
  private refusing = false;
  /** Upgrade attempts refused while closed (a client noticed the outage and retried). */
  refused = 0;
  /** Connections accepted so far. */
  accepted = 0;
  private waiters: Array<{ pred: () => boolean; resolve: () => void }> = [];

  private constructor(http: Server, wss: WebSocketServer, port: number) {
    this.http = http;
    this.wss = wss;
    this.url = `ws://127.0.0.1:${port}/`;
  }

  /** Starts a feed on 127.0.0.1, port 0. */
  static async start(): Promise<FakeFeed> {
    const http = createServer((_req, res) => {
      res.writeHead(404).end();
    });
    const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    const addr = http.address();
    if (addr === null || typeof addr === 'string') throw new Error('no port');
    const feed = new FakeFeed(http, wss, addr.port);
    http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => feed.upgrade(req, socket, head));
    return feed;
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.refusing) {
      this.refused++;
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      this.notify();
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.wss.emit('connection', ws, req);
      this.accepted++;
      this.notify();
    });
  }

  private notify(): void {
    this.waiters = this.waiters.filter((w) => {
      if (!w.pred()) return true;
      w.resolve();
      return false;
    });
  }

  /** Resolves once `pred()` holds (rejects after `ms`) (checked after every accept/refusal). */
  until(pred: () => boolean, ms = WAIT_MS): Promise<void> {
    if (pred()) return Promise.resolve();
    return withDeadline(new Promise((resolve) => this.waiters.push({ pred, resolve })), pred.toString(), ms);
  }

  /** Connected clients. */
  get clients(): number {
    return this.wss.clients.size;
  }

  /** Sends one entry frame to every connected client; resolves when written to every socket. */
  async send(logUrl: string, index: number): Promise<void> {
    await this.sendRaw(certificateUpdate(logUrl, index));
  }

  /** Sends one text frame to every client; resolves when written. */
  async sendRaw(text: string): Promise<void> {
    const writes: Promise<void>[] = [];
    for (const ws of this.wss.clients) {
      writes.push(new Promise<void>((resolve, reject) => ws.send(text, (err) => (err ? reject(err) : resolve()))));
    }
    await Promise.all(writes);
  }

  /** Sends a heartbeat frame as the calidog server does. */
  async heartbeat(): Promise<void> {
    await this.sendRaw(JSON.stringify({ message_type: 'heartbeat', timestamp: 1730205715.758093 }));
  }

  /**
   * Starts an outage: closes every client with `code` (1001 by default; 'terminate' drops the TCP
   * connection without a close frame) and refuses new connections until `reopen()`.
   */
  async closeClients(code: number | 'terminate' = 1001): Promise<void> {
    this.refusing = true;
    const closed: Promise<unknown>[] = [];
    for (const ws of this.wss.clients) {
      closed.push(once(ws as WebSocket, 'close'));
      if (code === 'terminate') ws.terminate();
      else ws.close(code, 'fake feed outage');
    }
    await Promise.all(closed);
  }

  /** Ends the outage: accepts connections again. */
  reopen(): void {
    this.refusing = false;
  }

  async close(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    this.wss.close();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }
}
