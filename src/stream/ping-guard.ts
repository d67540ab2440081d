/**
 * The client's side of ping/pong, for plain and durable clients alike (the hub's server runs ws with
 * autoPong off, so that it can tell these apart):
 *
 * - A client's pings are answered, but a client that pings without reading piles up answers the server
 *   cannot write; more than `maxPendingPongs` unwritten answers is a ping flood: the client is
 *   terminated and counted as `protocol` (ws itself would terminate silently).
 * - ws's own errors (`WS_ERR_INVALID_OPCODE`, `WS_ERR_UNSUPPORTED_MESSAGE_LENGTH`, …) mean the client
 *   broke the protocol and ws has closed it with the matching status: `protocol` too; any other error
 *   is its socket's.
 * - A pong confirms only when it carries the payload of the server's own outstanding ping
 *   (`isAnswer`): an unsolicited pong, which any client may send at any time, proves nothing about what
 *   it has read.
 */
import { randomBytes } from 'node:crypto';
import type { WebSocket } from 'ws';

/** Unwritten pongs a client may pile up before it counts as a ping flood (as ws's own default). */
export const DEFAULT_MAX_PENDING_PONGS = 60;

/** What the guard needs of a client: the count of its answers not yet written. */
export interface PingAnswering {
  pendingPongs: number;
}

/**
 * Answers `ws`'s pings while the client owes fewer than `maxPendingPongs` unwritten answers; beyond that
 * calls `onFlood` (which records the reason) and terminates the client.
 */
export function answerPings(ws: WebSocket, client: PingAnswering, maxPendingPongs: number, onFlood: (what: string) => void): void {
  ws.on('ping', (data) => {
    if (ws.readyState !== ws.OPEN) return;
    if (client.pendingPongs >= maxPendingPongs) {
      onFlood(`ping flood: ${client.pendingPongs} pongs not yet read`);
      ws.terminate();
      return;
    }
    client.pendingPongs++;
    ws.pong(data, false, () => client.pendingPongs--);
  });
}

/** The protocol violation an `error` event of ws stands for, or undefined for a socket error. */
export function protocolError(err: Error): string | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('WS_ERR_') ? `${code}: ${err.message}` : undefined;
}

/** A payload no client can guess, for one ping (8 bytes; control frames carry at most 125). */
export function pingPayload(): Buffer {
  return randomBytes(8);
}

/** Whether a pong's payload answers the outstanding ping `sent` (undefined: none outstanding). */
export function isAnswer(pong: Buffer, sent: Buffer | undefined): boolean {
  return sent !== undefined && pong.equals(sent);
}
