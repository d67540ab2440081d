/** One WebSocket upgrade attempt with the real `ws` client: the HTTP status it got (101 when it opened). */
import { WebSocket, type ClientOptions } from 'ws';

export interface Upgrade {
  /** 101 when the connection opened, else the refusal's status. */
  status: number;
  /** The refusal's body ('' when it opened). */
  body: string;
  /** The open socket (status 101), for the caller to close. */
  ws?: WebSocket;
}

export function upgrade(url: string, options: ClientOptions = {}): Promise<Upgrade> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    ws.once('open', () => resolve({ status: 101, body: '', ws }));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.once('error', reject);
  });
}
