/**
 * The URL a subscription connects to: a stream URL (ws://, wss://, or http(s):// of the server, read as
 * its WebSocket form) or a FEED name (`local`: ws://127.0.0.1:4000/), with the subscription's query
 * parameters set (`id`, `since`, `match`, `verified`, `token`); other parameters of the URL are kept.
 * Pure.
 */
import { CertstreamError } from '../errors.js';

/** The stream a subscription follows, as the server's query parameters say it (interface.md). */
export interface StreamQuery {
  /** Durable subscription NAME: the server remembers where this consumer is (1–64 of A-Z a-z 0-9 . _ -). */
  id?: string;
  /** Replay from this time (epoch seconds) before live; with `id`, only when the NAME is new. */
  since?: number;
  /** Server-side filter rules (comma-separated, certstream-watch syntax). */
  match?: string;
  /** Only entries a verified signed tree head covers. */
  verified?: boolean;
  /** Access token (sent as `?token=`; servers without --tokens ignore it). */
  token?: string;
}

/** The `local` FEED: a server on this machine at its default port. */
export const LOCAL_STREAM_URL = 'ws://127.0.0.1:4000/';

const NAME = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Builds the WebSocket URL.
 * @throws CertstreamError CLIENT_ERR_USAGE for a target that is not a ws/wss/http/https URL or `local`,
 *   or an `id` / `since` the server would refuse
 */
export function streamUrl(target: string, query: StreamQuery = {}): string {
  const t = target.trim();
  let url: URL;
  try {
    url = new URL(t === 'local' ? LOCAL_STREAM_URL : t);
  } catch {
    throw new CertstreamError('CLIENT_ERR_USAGE', `'${target}' is neither a stream URL (ws://HOST:PORT/…) nor 'local'`);
  }
  if (url.protocol === 'http:' || url.protocol === 'https:') url.protocol = url.protocol === 'http:' ? 'ws:' : 'wss:';
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw new CertstreamError('CLIENT_ERR_USAGE', `'${target}': a stream URL must be ws://, wss://, http:// or https://`);
  }
  if (query.id !== undefined) {
    if (!NAME.test(query.id)) throw new CertstreamError('CLIENT_ERR_USAGE', `id '${query.id}' must be 1-64 of A-Z a-z 0-9 . _ -`);
    url.searchParams.set('id', query.id);
  }
  if (query.since !== undefined) {
    if (!Number.isFinite(query.since) || query.since < 0) throw new CertstreamError('CLIENT_ERR_USAGE', `since must be epoch seconds >= 0, got ${query.since}`);
    url.searchParams.set('since', String(query.since));
  }
  if (query.match !== undefined) url.searchParams.set('match', query.match);
  if (query.verified) url.searchParams.set('verified', '1');
  if (query.token !== undefined) url.searchParams.set('token', query.token);
  return url.toString();
}
