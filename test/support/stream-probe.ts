/** Real ws clients that record a stream's raw frames, and a raw upgrade request to read a refusal. */
import { request } from 'node:http';
import { WebSocket } from 'ws';

export interface Recorded {
  ws: WebSocket;
  /** Every text frame, as received. */
  raw: string[];
}

/**
 * Opens a client that records its raw text frames from the start (a replay can arrive in the same TCP
 * read as the 101 response, before `open` handlers run), and resolves once it is open.
 */
export async function recordFrames(url: string): Promise<Recorded> {
  const ws = new WebSocket(url);
  const raw: string[] = [];
  ws.on('message', (d) => raw.push(d.toString()));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { ws, raw };
}

/** Resolves once everything the server wrote to `ws` before now has arrived (its pong follows them on the socket). */
export async function caughtUp(ws: WebSocket): Promise<void> {
  const pong = new Promise<void>((resolve) => ws.once('pong', () => resolve()));
  ws.ping();
  await pong;
}

/** Sends a WebSocket upgrade for `url` and resolves with the answer's status and body (101: no body, socket closed). */
export function upgradeAnswer(url: string): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path: `${u.pathname}${u.search}`, headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' } });
    req.on('response', (r) => {
      let body = '';
      r.on('data', (c) => (body += c));
      r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, body: '' });
    });
    req.on('error', reject);
    req.end();
  });
}
