/**
 * The three WebSocket streams and their paths (interface.md): `/` lite, `/full-stream` full,
 * `/domains-only` domains; a trailing slash and a query string are accepted.
 */

/** A stream's name; also the `stream` label of the client metrics. */
export type StreamName = 'lite' | 'full' | 'domains';

export const STREAM_NAMES: readonly StreamName[] = ['lite', 'full', 'domains'];

/** The canonical path of each stream. */
export const STREAM_PATHS: Readonly<Record<StreamName, string>> = { lite: '/', full: '/full-stream', domains: '/domains-only' };

/** The stream served at a request URL (path + optional query), or undefined for any other path. */
export function streamForPath(url: string | undefined): StreamName | undefined {
  if (url === undefined) return undefined;
  let path = url;
  const q = path.search(/[?#]/);
  if (q >= 0) path = path.slice(0, q);
  if (path === '/') return 'lite';
  if (path.endsWith('/')) path = path.slice(0, -1);
  if (path === '/full-stream') return 'full';
  if (path === '/domains-only') return 'domains';
  return undefined;
}
