/**
 * The small HTML page served on the stream paths without an Upgrade header (and on `/` to clients
 * that do not ask for HTML): what the stream is, how to connect, the counters at the time of the
 * request, and a link to the live dashboard. No script: the dashboard is the live view.
 */
import { STREAM_PATHS, STREAM_VARIANTS, type StreamName } from '../stream/stream-paths.js';
import type { HealthzBody } from './healthz.js';

const DESCRIPTIONS = Object.fromEntries(STREAM_VARIANTS.map((v) => [v.name, v.description])) as Record<StreamName, string>;

/**
 * @param stream the stream whose path was requested
 * @param host the request's Host header (used for the URLs shown), or undefined
 * @param secure whether the page was reached over TLS (a proxy's X-Forwarded-Proto: https): wss:// URLs
 */
export function renderStatusPage(stream: StreamName, host: string | undefined, health: HealthzBody, secure = false): string {
  const origin = `${secure ? 'wss' : 'ws'}://${escapeHtml(host ?? 'localhost:4000')}`;
  const rows = (Object.keys(STREAM_PATHS) as StreamName[])
    .map((s) => {
      const mark = s === stream ? ' class="this"' : '';
      return `<tr${mark}><td><code>${origin}${STREAM_PATHS[s]}</code></td><td>${DESCRIPTIONS[s]}</td><td id="c-${s}">${health.clients_by_stream[s]}</td></tr>`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>certstream-server</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:56rem;margin:2rem auto;padding:0 1rem;color:#222}
code{background:#f3f3f3;padding:0 .2em}table{border-collapse:collapse}td,th{padding:.3rem .6rem;border-bottom:1px solid #ddd;text-align:left}
tr.this{background:#eef6ff}</style></head>
<body>
<h1>certstream-server</h1>
<p>A live stream of the certificates appended to Certificate Transparency logs, over WebSocket,
compatible with the CaliDog certstream clients. This path (<code>${STREAM_PATHS[stream]}</code>) carries
${DESCRIPTIONS[stream]}. Open it with a WebSocket client, for example
<code>websocat ${origin}${STREAM_PATHS[stream]}</code>.</p>
<table><thead><tr><th>stream</th><th>frames</th><th>clients</th></tr></thead>
<tbody>
${rows}
</tbody></table>
<p>Status <b id="status">${health.status}</b> · <span id="logs">${health.healthy_logs}/${health.logs.length}</span> logs healthy ·
<span id="certs">${health.certificates}</span> certificates streamed since start ·
<span id="dropped">${health.dropped_messages}</span> frames dropped for slow clients ·
version ${escapeHtml(health.version)}</p>
<p><a href="/">Live dashboard</a> (logs, rates, clients, recent certificates). Also: <a href="/latest.json">/latest.json</a> (last 25 messages), <a href="/example.json">/example.json</a>,
<a href="/healthz">/healthz</a>, <a href="/metrics">/metrics</a>.</p>
</body></html>
`;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
