/**
 * The liveness rules of plain clients, applied by the hub's timers: a client that did not answer the
 * previous ping is terminated (`ping_timeout`), and one that stayed over its byte budget for the
 * slow-client timeout is closed as slow (1008).
 */
import type { Logger } from '../log/logger.js';
import type { StreamClient } from './stream-client.js';

/** Pings every open client; terminates those that did not answer the previous ping. */
export function pingClients(clients: Iterable<StreamClient>, logger: Logger): void {
  for (const client of clients) {
    if (client.closeReason !== undefined) continue;
    if (!client.alive) {
      client.closeReason = 'ping_timeout';
      logger.info('client terminated: no pong', { stream: client.stream, remote: client.remote });
      client.ws.terminate();
      continue;
    }
    client.alive = false;
    client.ws.ping();
  }
}

/** Closes (through `closeSlow`) every client over its budget for `timeoutMs` or longer, with a log line. */
export function closeLaggards(clients: Iterable<StreamClient>, now: number, timeoutMs: number, logger: Logger, closeSlow: (c: StreamClient, why: string) => void): void {
  for (const client of clients) {
    if (client.closeReason !== undefined) continue;
    client.recheck();
    if (client.overSince === undefined || now - client.overSince < timeoutMs) continue;
    logger.warn('client closed for lag', {
      stream: client.stream,
      remote: client.remote,
      buffered_bytes: client.buffered,
      dropped: client.dropped,
      over_budget_seconds: (now - client.overSince) / 1000,
    });
    closeSlow(client, 'too slow: over the byte budget');
  }
}
