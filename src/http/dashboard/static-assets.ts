/**
 * The dashboard's static files (HTML, CSS, one script), served by the daemon itself: no CDN, so the
 * page works on a host without internet. They live beside this module in `assets/` (the build copies
 * them into dist/, scripts/copy-assets.mjs) and are read once, at start-up: a missing file is a
 * packaging error and fails the start instead of the first page view.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface StaticAsset {
  readonly body: Buffer;
  readonly contentType: string;
  /** Strong ETag of the content: a reload revalidates (304) instead of downloading again. */
  readonly etag: string;
}

/** URL path → file in assets/. `/` is only the dashboard for a browser (routes.ts decides). */
const FILES: Readonly<Record<string, [file: string, type: string]>> = {
  '/': ['dashboard.html', 'text/html; charset=utf-8'],
  '/assets/dashboard.css': ['dashboard.css', 'text/css; charset=utf-8'],
  '/assets/dashboard.js': ['dashboard.js', 'text/javascript; charset=utf-8'],
};

/**
 * The page may load only its own script and style and talk only to its own origin; nothing inline,
 * nothing framed. (The favicon is an empty data: URL in the HTML, so the browser asks for none.)
 */
export const DASHBOARD_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

let loaded: ReadonlyMap<string, StaticAsset> | undefined;

/** Reads every asset (once per process). Throws when one is missing. */
export function loadDashboardAssets(): ReadonlyMap<string, StaticAsset> {
  if (loaded) return loaded;
  const dir = new URL('./assets/', import.meta.url);
  const map = new Map<string, StaticAsset>();
  for (const [path, [file, contentType]] of Object.entries(FILES)) {
    const body = readFileSync(new URL(file, dir));
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
    map.set(path, { body, contentType, etag });
  }
  loaded = map;
  return map;
}

/** Whether a request is a browser's page load: its Accept names text/html (curl and scripts do not). */
export function acceptsHtml(req: IncomingMessage): boolean {
  return /\btext\/html\b/i.test(String(req.headers.accept ?? ''));
}

/** Sends an asset, or 304 when the client's copy is current. */
export function sendAsset(req: IncomingMessage, res: ServerResponse, asset: StaticAsset, extraHeaders: Record<string, string> = {}): void {
  const headers: Record<string, string | number> = {
    'content-type': asset.contentType,
    etag: asset.etag,
    // Revalidate on every load: a new build must not be hidden behind a cached old script.
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
    ...extraHeaders,
  };
  const match = String(req.headers['if-none-match'] ?? '').split(',').map((s) => s.trim());
  if (match.includes(asset.etag)) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  res.writeHead(200, { ...headers, 'content-length': asset.body.length });
  res.end(req.method === 'HEAD' ? undefined : asset.body);
}
