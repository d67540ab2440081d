/**
 * The dashboard's HTTP side on the real server fed by the fake CT log: `/` for a browser, the stream
 * pages linking to it, the assets, and `/status.json` (the healthz body plus rates and samples).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { WebSocket } from 'ws';
import type { StatusBody } from '../../src/http/dashboard/status-json.js';
import { createServerMetrics } from '../../src/metrics/server-metrics.js';
import { polledAll, startFake, startReal, tempDir, testConfig, whenFake } from '../server/server-harness.js';

const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8';

async function status(base: string, after = 0): Promise<StatusBody> {
  const r = await fetch(`${base}/status.json?after=${after}`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type') ?? '', /application\/json/);
  return (await r.json()) as StatusBody;
}

/** Polls `check` until it returns a value, or fails after `ms`. */
async function until<T>(what: string, check: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('GET / is the dashboard for a browser and the short page otherwise; the stream pages link to it', { timeout: 60_000 }, async (t) => {
  const fake = await startFake(t, { initialSize: 50 });
  const server = await startReal(testConfig(fake, await tempDir(t)));
  t.after(() => server.close());

  const page = await fetch(`${server.url}/`, { headers: { accept: BROWSER_ACCEPT } });
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
  assert.match(page.headers.get('vary') ?? '', /accept/i);
  const csp = page.headers.get('content-security-policy') ?? '';
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self'/);
  const html = await page.text();
  assert.match(html, /<script src="\/assets\/dashboard\.js" defer><\/script>/);
  // Nothing from another origin: every src/href is a path on this server, a data: URL or a fragment.
  for (const [, ref] of html.matchAll(/(?:src|href)="([^"]*)"/g)) assert.match(ref, /^(\/[^/]|data:|#)/, ref);

  let total = Buffer.byteLength(html);
  for (const asset of ['/assets/dashboard.css', '/assets/dashboard.js']) {
    const r = await fetch(`${server.url}${asset}`);
    assert.equal(r.status, 200, asset);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    const etag = r.headers.get('etag');
    assert.ok(etag, asset);
    total += (await r.arrayBuffer()).byteLength;
    const again = await fetch(`${server.url}${asset}`, { headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304, `${asset} revalidates`);
    await again.arrayBuffer();
  }
  assert.ok(total < 50_000, `the whole page is ${total} bytes`);

  // curl, scripts: the short page, which links to the dashboard; so do the stream paths.
  for (const path of ['/', '/full-stream', '/domains-only/']) {
    const r = await fetch(`${server.url}${path}`, { headers: { accept: '*/*' } });
    assert.equal(r.status, 200, path);
    const text = await r.text();
    assert.match(text, /websocat ws:\/\//, path);
    assert.match(text, /<a href="\/">Live dashboard<\/a>/, path);
    assert.doesNotMatch(text, /dashboard\.js/, path);
  }
  const head = await fetch(`${server.url}/assets/dashboard.js`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(await head.text(), '');
});

test('a WebSocket upgrade on / streams as before, even with a browser Accept header', { timeout: 60_000 }, async (t) => {
  const fake = await startFake(t, { initialSize: 20 });
  const server = await startReal(testConfig(fake, await tempDir(t)));
  t.after(() => server.close());
  await whenFake(fake, () => polledAll(server));
  const ws = new WebSocket(`${server.url.replace('http', 'ws')}/`, { headers: { accept: BROWSER_ACCEPT } });
  t.after(() => ws.terminate());
  const first = new Promise<{ message_type: string }>((resolve, reject) => {
    ws.on('message', (d) => resolve(JSON.parse(d.toString()) as { message_type: string }));
    ws.once('error', reject);
  });
  await new Promise<void>((resolve, reject) => ws.once('open', () => resolve()).once('error', reject));
  fake.append(3);
  assert.equal((await first).message_type, 'certificate_update');
});

test('status.json: the healthz body plus per-log rates, states and sampled certificates', { timeout: 60_000 }, async (t) => {
  const fake = await startFake(t, { initialSize: 100 });
  const server = await startReal(testConfig(fake, await tempDir(t)));
  t.after(() => server.close());
  await whenFake(fake, () => polledAll(server));
  // Rates need two samples (one a second) of a log: wait until both logs have one, then grow them.
  await until('a first rate', async () => ((await status(server.url)).logs.every((l) => l.entries_per_second !== null) ? true : undefined));
  fake.append(64);
  const [rfc, tiled] = fake.logs;
  const s = await until('both logs at 164 with a positive rate', async () => {
    const b = await status(server.url);
    return b.logs.every((l) => l.next_index === 164 && l.entries_per_second! > 0) ? b : undefined;
  });
  const health = (await (await fetch(`${server.url}/healthz`)).json()) as Record<string, unknown>;
  for (const key of ['status', 'clients', 'clients_by_stream', 'certificates', 'dropped_messages', 'healthy_logs', 'version']) {
    assert.ok(key in s, key);
  }
  assert.equal(s.status, health.status);
  assert.equal(s.logs.length, 2);
  for (const l of s.logs) {
    assert.ok([rfc.url, tiled.url].includes(l.url));
    assert.equal(l.tree_size, 164);
    assert.equal(l.lag, 0);
    assert.equal(l.state, 'ok');
    assert.ok(l.entries_per_second! > 0, `${l.url} rate ${l.entries_per_second}`);
  }
  assert.ok(s.entries_per_second! > 0);
  assert.ok(Math.abs(s.entries_per_second! - s.logs.reduce((a, l) => a + l.entries_per_second!, 0)) < 0.2);
  assert.ok(s.rate_window_seconds > 0 && s.rate_window_seconds <= 61);
  assert.equal(s.max_lag, 10_000);
  assert.equal(s.slow_client_closes, 0);
  assert.ok(Math.abs(s.now - Date.now() / 1000) < 5);

  // Samples: real certificates of both logs, with sequence numbers; ?after= gives only newer ones.
  const certs = s.recent.certificates;
  assert.ok(certs.length > 0 && certs.length <= 2 * s.recent.sampled_per_second + 10, `${certs.length} sampled`);
  assert.equal(certs.at(-1)!.seq, s.recent.last_seq);
  assert.equal(s.recent.unreadable, 0);
  assert.ok(certs.every((c) => [rfc.url, tiled.url].includes(c.log_url) && c.cert_index < 164 && typeof c.precert === 'boolean'));
  assert.ok(certs.some((c) => c.domains.length > 0 && c.issuer !== ''));
  assert.deepEqual((await status(server.url, s.recent.last_seq)).recent.certificates, []);
  const head = await fetch(`${server.url}/status.json`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(await head.text(), '');
});

test('status.json marks a failing log and counts slow-client closes from the metric', { timeout: 60_000 }, async (t) => {
  const fake = await startFake(t, { initialSize: 30 });
  const metrics = createServerMetrics({ processMetrics: false });
  const server = await startReal(testConfig(fake, await tempDir(t)), metrics);
  t.after(() => server.close());
  await whenFake(fake, () => polledAll(server));
  const bad = fake.logs[0].url;
  fake.injectFault(bad, { status: 500, times: 1_000_000 });
  const s = await until('the log marked failing', async () => {
    const b = await status(server.url);
    return b.logs.find((l) => l.url === bad)?.state === 'failing' ? b : undefined;
  });
  const log = s.logs.find((l) => l.url === bad)!;
  assert.match(log.last_error ?? '', /500/);
  assert.equal(s.logs.find((l) => l.url !== bad)!.state, 'ok');
  // The hub counts closes in certstream_client_disconnects_total{reason}; only "slow" is shown.
  metrics.clientDisconnects.inc({ reason: 'slow' }, 2);
  metrics.clientDisconnects.inc({ reason: 'client' }, 5);
  assert.equal((await status(server.url)).slow_client_closes, 2);
  // Not a page for scripts only: the body also answers a plain request without a query.
  const raw = await new Promise<string>((resolve, reject) => {
    request(`${server.url}/status.json`, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => resolve(text));
    }).on('error', reject).end();
  });
  assert.equal((JSON.parse(raw) as StatusBody).logs.length, 2);
});
