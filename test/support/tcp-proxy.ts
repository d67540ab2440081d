/**
 * A TCP proxy on 127.0.0.1 port 0 in front of a real server, for tests of clients across network
 * trouble: it can cut every connection (and refuse new ones until restored) and stall them (stop
 * forwarding server → client bytes, as a congested path or a client that stopped reading would).
 */
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';

export class CuttableProxy {
  private cut = false;
  private stalled = false;
  private readonly sockets = new Set<Socket>();
  /** upstream (to the server) → downstream (to the client) of each proxied connection. */
  private readonly pairs = new Map<Socket, Socket>();
  private constructor(
    readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number): Promise<CuttableProxy> {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const proxy = new CuttableProxy(server, (server.address() as { port: number }).port);
    server.on('connection', (down) => {
      if (proxy.cut) {
        down.destroy();
        return;
      }
      const up = connect(targetPort, '127.0.0.1');
      proxy.pairs.set(up, down);
      up.on('close', () => proxy.pairs.delete(up));
      for (const s of [down, up]) {
        proxy.sockets.add(s);
        s.on('close', () => proxy.sockets.delete(s));
        s.on('error', () => {
          down.destroy();
          up.destroy();
        });
      }
      down.pipe(up);
      if (!proxy.stalled) up.pipe(down);
    });
    return proxy;
  }

  /** Drops every proxied connection (the client sees the TCP connection die) and refuses new ones. */
  cutAll(): void {
    this.cut = true;
    for (const s of this.sockets) s.destroy();
  }

  restore(): void {
    this.cut = false;
  }

  /** Stops forwarding server → client bytes on every connection (until `unstall`). */
  stall(): void {
    this.stalled = true;
    for (const up of this.pairs.keys()) {
      up.unpipe();
      up.pause();
    }
  }

  unstall(): void {
    this.stalled = false;
    for (const [up, down] of this.pairs) up.pipe(down);
  }

  async close(): Promise<void> {
    this.cutAll();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
