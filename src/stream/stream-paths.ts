/**
 * The WebSocket streams (interface.md), defined once: each variant's name (also the `stream` label of the
 * client metrics), path, whether heartbeats flow on it, and what its frames carry. `/` lite,
 * `/full-stream` full, `/domains-only` domains; a trailing slash and a query string are accepted.
 * Each rendered entry carries one frame per variant (render/renderer.ts); the window's record stores
 * those frames (replay/record-codec.ts).
 */

/** A stream's name; also the `stream` label of the client metrics. */
export type StreamName = 'lite' | 'full' | 'domains';

export interface StreamVariant {
  readonly name: StreamName;
  /** The canonical path. */
  readonly path: string;
  /** Heartbeat frames flow on it (`{"message_type":"heartbeat",…}`). */
  readonly heartbeats: boolean;
  /** What its frames carry, as HTML (the status page). */
  readonly description: string;
}

export const STREAM_VARIANTS: readonly StreamVariant[] = [
  { name: 'lite', path: '/', heartbeats: true, description: '<code>certificate_update</code> messages without the chain and without the DER of the leaf' },
  { name: 'full', path: '/full-stream', heartbeats: true, description: '<code>certificate_update</code> messages with the DER of the leaf and the full chain' },
  { name: 'domains', path: '/domains-only', heartbeats: false, description: '<code>dns_entries</code> messages: only the domains of each certificate' },
];

export const STREAM_NAMES: readonly StreamName[] = STREAM_VARIANTS.map((v) => v.name);

/** The canonical path of each stream. */
export const STREAM_PATHS: Readonly<Record<StreamName, string>> = Object.fromEntries(STREAM_VARIANTS.map((v) => [v.name, v.path])) as Record<StreamName, string>;

/** The stream served at a request URL (path + optional query), or undefined for any other path. */
export function streamForPath(url: string | undefined): StreamName | undefined {
  if (url === undefined) return undefined;
  let path = url;
  const q = path.search(/[?#]/);
  if (q >= 0) path = path.slice(0, q);
  const exact = STREAM_VARIANTS.find((v) => v.path === path);
  if (exact !== undefined || !path.endsWith('/')) return exact?.name;
  const trimmed = path.slice(0, -1);
  return STREAM_VARIANTS.find((v) => v.path !== '/' && v.path === trimmed)?.name;
}
