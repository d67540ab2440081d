/**
 * Opens a WebSocket and tells how the upgrade went: the open socket, or the refusal's HTTP status and
 * body (the one line a refused stream request carries).
 */
import { WebSocket } from 'ws';

export type UpgradeResult = { ws: WebSocket } | { status: number; body: string };

export function openOrRefused(url: string): Promise<UpgradeResult> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
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
