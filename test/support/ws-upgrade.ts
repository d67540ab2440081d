/**
 * Opens a WebSocket (the real `ws` client) and tells how the upgrade went: the open socket, or the
 * refusal's HTTP status and body (the one line a refused stream request carries).
 */
import { WebSocket, type ClientOptions } from 'ws';

export type UpgradeResult = { ws: WebSocket } | { status: number; body: string };

/** @param options `ws` client options (headers, `ca` for wss://) */
export function openOrRefused(url: string, options: ClientOptions = {}): Promise<UpgradeResult> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    ws.once('open', () => resolve({ ws }));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.once('error', reject);
  });
}

/** The same as one shape: `status` 101 with the open socket, or the refusal's status and body. */
export interface Upgrade {
  status: number;
  body: string;
  ws?: WebSocket;
}

export async function upgrade(url: string, options: ClientOptions = {}): Promise<Upgrade> {
  const r = await openOrRefused(url, options);
  return 'ws' in r ? { status: 101, body: '', ws: r.ws } : r;
}
