/**
 * A certstream feed the test writes to: a real WebSocket server on 127.0.0.1 that sends the
 * `certificate_update` frames the test asks for to every connected client (the watcher connects with
 * `?id=`; it needs nothing else from a server to match and store). Lighter than the daemon with a fake
 * CT log when the test is about what a certificate contains or how deliveries behave.
 */
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

/** One certificate to stream. */
export interface FakeCert {
  index: number;
  domains: string[];
  serial?: string;
  subject?: string;
  issuer?: string;
  /** The leaf's DER (base64 in the frame); CERT_SHA256 is its hash. */
  der?: Buffer;
  log?: string;
}

/** The frame the server would stream for `c` (full stream: with `as_der`). */
export function certFrame(c: FakeCert): string {
  return JSON.stringify({
    message_type: 'certificate_update',
    data: {
      update_type: 'X509LogEntry',
      cert_index: c.index,
      seen: Date.now() / 1000,
      source: { url: c.log ?? 'https://ct.example/log/', name: 'fake' },
      leaf_cert: {
        all_domains: c.domains,
        fingerprint: 'AA:BB',
        serial_number: c.serial ?? `S${c.index}`,
        issuer: { aggregated: c.issuer ?? '/CN=Fake CA' },
        subject: { aggregated: c.subject ?? `/CN=${c.domains[0] ?? ''}` },
        not_before: 1_700_000_000,
        not_after: 1_800_000_000,
        as_der: (c.der ?? Buffer.from(`der-${c.index}`)).toString('base64'),
      },
    },
  });
}

/** SHA-256 hex of the DER `certFrame` sends for `c`. */
export function certSha256(c: FakeCert): string {
  return createHash('sha256').update(c.der ?? Buffer.from(`der-${c.index}`)).digest('hex');
}

export class FakeFeed {
  private wss!: WebSocketServer;
  readonly clients = new Set<WebSocket>();
  /** The request path (with query) of every connection. */
  readonly paths: string[] = [];
  url = '';
  private connected: (() => void)[] = [];

  async start(): Promise<void> {
    this.wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => this.wss.once('listening', () => resolve()));
    this.url = `ws://127.0.0.1:${(this.wss.address() as AddressInfo).port}/`;
    this.wss.on('connection', (ws, req) => {
      this.paths.push(req.url ?? '');
      this.clients.add(ws);
      ws.on('close', () => this.clients.delete(ws));
      for (const f of this.connected.splice(0)) f();
    });
  }

  /** Resolves once a client is connected. */
  client(): Promise<void> {
    if (this.clients.size > 0) return Promise.resolve();
    return new Promise((resolve) => this.connected.push(resolve));
  }

  /** Sends each certificate to every client, in order. */
  send(certs: readonly FakeCert[]): void {
    for (const ws of this.clients) for (const c of certs) ws.send(certFrame(c));
  }

  async close(): Promise<void> {
    for (const ws of this.clients) ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}
