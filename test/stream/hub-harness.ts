/** A FanoutHub behind a real HTTP server on 127.0.0.1 port 0, and helpers for real ws clients. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, type ClientOptions } from 'ws';
import { silentLogger } from '../../src/log/logger.js';
import { createServerMetrics, type ServerMetrics } from '../../src/metrics/server-metrics.js';
import { FanoutHub, type FanoutHubOptions, type StreamFrames } from '../../src/stream/fanout-hub.js';

export interface Harness {
  hub: FanoutHub;
  metrics: ServerMetrics;
  server: Server;
  url: string;
  close(): Promise<void>;
}

/** Hub options for tests: 1 MiB budgets, no pings or heartbeats unless overridden. */
export function testHubOptions(options: Partial<FanoutHubOptions> = {}): FanoutHubOptions {
  return {
    metrics: options.metrics ?? createServerMetrics({ processMetrics: false }),
    logger: silentLogger,
    clientBufferBytes: 1 << 20,
    slowClientTimeoutMs: 10_000,
    pingIntervalMs: 0,
    heartbeatIntervalMs: 0,
    perMessageDeflate: false,
    maxPayloadBytes: 4096,
    ...options,
  };
}

export async function startHub(options: Partial<FanoutHubOptions> = {}): Promise<Harness> {
  const hubOptions = testHubOptions(options);
  const metrics = hubOptions.metrics;
  const hub = new FanoutHub(hubOptions);
  const server = createServer((_req, res) => res.writeHead(404).end());
  server.on('upgrade', (req, socket, head) => {
    if (!hub.handleUpgrade(req, socket, head)) socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    hub,
    metrics,
    server,
    url: `ws://127.0.0.1:${port}`,
    async close() {
      await hub.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Opens a client and resolves once it is open (the hub has registered it by then). */
export async function connect(url: string, options?: ClientOptions): Promise<WebSocket> {
  const ws = new WebSocket(url, options);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return ws;
}

/** Collects parsed text messages; `until(n)` resolves when n have arrived. */
export function collect(ws: WebSocket): { messages: unknown[]; until(n: number): Promise<unknown[]> } {
  const messages: unknown[] = [];
  const waiters: { n: number; resolve: (m: unknown[]) => void }[] = [];
  ws.on('message', (data, isBinary) => {
    if (isBinary) throw new Error('binary frame');
    messages.push(JSON.parse(data.toString()));
    for (const w of [...waiters]) {
      if (messages.length >= w.n) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(messages);
      }
    }
  });
  return {
    messages,
    until(n) {
      if (messages.length >= n) return Promise.resolve(messages);
      return new Promise((resolve) => waiters.push({ n, resolve }));
    },
  };
}

/** Synthetic frames shaped like the real ones, for entries [from, from+count) of one log. */
export function frames(log: string, from: number, count: number, padding = 0): StreamFrames[] {
  const out: StreamFrames[] = [];
  for (let i = from; i < from + count; i++) {
    const pad = 'p'.repeat(padding);
    const data = `"cert_index":${i},"source":{"url":"${log}"},"pad":"${pad}"`;
    out.push({
      lite: `{"data":{${data},"kind":"lite"},"message_type":"certificate_update"}`,
      full: `{"data":{${data},"kind":"full"},"message_type":"certificate_update"}`,
      domains: `{"data":["d${i}.example"],"message_type":"dns_entries"}`,
    });
  }
  return out;
}

export async function metricValue(metrics: ServerMetrics, name: string, labels: Record<string, string>): Promise<number> {
  const metric = metrics.registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  const v = values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v?.value ?? 0;
}

export function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
}
