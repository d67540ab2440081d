import type { LogDescriptor } from './types.js';
import { TILE_WIDTH, dataTilePath } from './tile-path.js';

/**
 * `data.cert_link` of a frame. RFC 6962: the single-entry get-entries URL, exactly as the original server
 * built it. static-ct-api logs have no get-entries, so the link is the URL of the full data tile that holds
 * the entry (`<monitoring prefix>tile/data/<N>`; the entry is at position index mod 256). A full tile is
 * immutable once it exists; until the log has filled it, the link answers 404 for a short while.
 */
export function certLink(log: LogDescriptor, index: number): string {
  if (log.kind === 'rfc6962') return `${log.url}ct/v1/get-entries?start=${index}&end=${index}`;
  return log.monitoringUrl + dataTilePath(Math.floor(index / TILE_WIDTH));
}
