/**
 * HTTP endpoints on 127.0.0.1 whose answer the test chooses per request: healthy, refusing, slow (one
 * byte a second), hanging (never answers), huge (an endless body). Each records what it was sent.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as received. */
export interface Received {
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
}

export type Answer = (req: Received, res: ServerResponse) => void;

export class Endpoint {
  readonly requests: Received[] = [];
  /** Requests answered 2xx (by `ok`). */
  readonly delivered: Received[] = [];
  /** Bytes of response body written by `huge`, and whether its client went away. */
  hugeBytes = 0;
  url = '';
  private server!: Server;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(public answer: Answer = (r, res) => this.ok(r, res)) {}

  async start(path = '/hook'): Promise<this> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        const r = { headers: req.headers, body: JSON.parse(body) as Record<string, unknown> };
        this.requests.push(r);
        this.answer(r, res);
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`;
    return this;
  }

  ok(r: Received, res: ServerResponse): void {
    this.delivered.push(r);
    res.writeHead(204).end();
  }

  /** 200, then the body one byte a second, for ever. */
  slow(res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/plain' });
    const t = setInterval(() => res.write('x'), 1000);
    this.timers.add(t);
    res.on('close', () => clearInterval(t));
  }

  /** 200 and an endless body, as fast as the client reads it. */
  huge(r: Received, res: ServerResponse): void {
    this.delivered.push(r);
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    const chunk = Buffer.alloc(64 * 1024, 120);
    const pump = () => {
      while (!res.destroyed && !res.writableEnded) {
        this.hugeBytes += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
    };
    pump();
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
