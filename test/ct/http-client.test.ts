import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import { gzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { HttpClient, HttpStatusError, errorKind, type HttpClientOptions } from '../../src/ct/http-client.js';
import { CertstreamError, isCertstreamError, type ErrorCode } from '../../src/errors.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
interface TestContext {
  after: (fn: () => unknown) => void;
}

/** A real HTTP server on 127.0.0.1, port 0; closed (with its sockets) after the test. */
async function serve(t: TestContext, handler: Handler): Promise<string> {
  const server = createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function client(t: TestContext, options: Partial<HttpClientOptions> = {}): HttpClient {
  const c = new HttpClient({ userAgent: 'certstream-server-test/1.0 (+https://example.invalid)', timeoutMs: 5_000, ...options });
  t.after(() => c.close());
  return c;
}

const isCode = (code: ErrorCode, pattern?: RegExp) => (err: unknown) => {
  assert.ok(isCertstreamError(err, code), `expected ${code}, got ${String(err)}`);
  if (pattern) assert.match(err.message, pattern);
  return true;
};

test('every request carries the configured User-Agent and accepts gzip', async (t) => {
  const seen: IncomingMessage['headers'][] = [];
  const base = await serve(t, (req, res) => {
    seen.push(req.headers);
    res.setHeader('content-type', 'application/json');
    res.end('{"tree_size":5}');
  });
  const c = client(t);
  assert.deepEqual(await c.getJson(`${base}/ct/v1/get-sth`), { tree_size: 5 });
  const r = await c.get(`${base}/checkpoint`);
  assert.equal(r.status, 200);
  assert.equal(r.body.toString(), '{"tree_size":5}');
  assert.equal(r.headers['content-type'], 'application/json');
  assert.equal(seen.length, 2);
  for (const h of seen) {
    assert.equal(h['user-agent'], 'certstream-server-test/1.0 (+https://example.invalid)');
    assert.match(String(h['accept-encoding']), /gzip/);
  }
});

test('429 with Retry-After in seconds → HttpStatusError CT_ERR_RATE_LIMITED with retryAfterMs', async (t) => {
  const base = await serve(t, (_req, res) => {
    res.writeHead(429, { 'retry-after': '7' });
    res.end('slow down');
  });
  await assert.rejects(client(t).get(`${base}/ct/v1/get-entries?start=0&end=31`), (err: unknown) => {
    assert.ok(err instanceof HttpStatusError);
    assert.equal(err.code, 'CT_ERR_RATE_LIMITED');
    assert.equal(err.status, 429);
    assert.equal(err.retryAfterMs, 7_000);
    assert.match(err.message, /HTTP 429/);
    assert.equal(errorKind(err), 'rate_limited');
    return true;
  });
});

test('429 with Retry-After as an HTTP-date → retryAfterMs relative to the injected clock', async (t) => {
  const now = Date.parse('2026-05-20T18:00:00Z');
  const base = await serve(t, (_req, res) => {
    res.writeHead(429, { 'retry-after': new Date(now + 42_000).toUTCString() });
    res.end();
  });
  await assert.rejects(client(t, { now: () => now }).get(`${base}/tile/data/000`), (err: unknown) => {
    assert.ok(err instanceof HttpStatusError);
    assert.equal(err.retryAfterMs, 42_000);
    return true;
  });
});

test('429 without or with a garbage Retry-After → retryAfterMs undefined', async (t) => {
  let n = 0;
  const base = await serve(t, (_req, res) => {
    if (n++ === 0) res.writeHead(429);
    else res.writeHead(429, { 'retry-after': 'later please' });
    res.end();
  });
  const c = client(t);
  for (let i = 0; i < 2; i++) {
    await assert.rejects(c.get(base), (err: unknown) => err instanceof HttpStatusError && err.retryAfterMs === undefined);
  }
});

test('404 and 503 → HttpStatusError CT_ERR_HTTP, kind "http"; the connection stays usable', async (t) => {
  const base = await serve(t, (req, res) => {
    if (req.url === '/missing') res.writeHead(404);
    else if (req.url === '/busy') res.writeHead(503, { 'retry-after': '3' });
    else res.writeHead(200);
    res.end(req.url === '/ok' ? 'fine' : 'x'.repeat(100_000));
  });
  const c = client(t);
  await assert.rejects(c.get(`${base}/missing`), (err: unknown) => {
    assert.ok(err instanceof HttpStatusError);
    assert.equal(err.code, 'CT_ERR_HTTP');
    assert.equal(err.status, 404);
    assert.equal(errorKind(err), 'http');
    assert.match(err.message, new RegExp(`GET ${base}/missing: HTTP 404`));
    return true;
  });
  await assert.rejects(c.get(`${base}/busy`), (err: unknown) => {
    assert.ok(err instanceof HttpStatusError);
    assert.equal(err.code, 'CT_ERR_HTTP');
    assert.equal(err.status, 503);
    assert.equal(err.retryAfterMs, 3_000);
    return true;
  });
  assert.equal((await c.get(`${base}/ok`)).body.toString(), 'fine');
});

test('gzip bodies are decoded, also when the server sends gzip unasked', async (t) => {
  const tile = Buffer.alloc(50_000, 7);
  const base = await serve(t, (_req, res) => {
    res.writeHead(200, { 'content-encoding': 'gzip' });
    res.end(gzipSync(tile));
  });
  const r = await client(t).get(`${base}/tile/data/000`);
  assert.deepEqual(r.body, tile);
});

test('over-size bodies → CT_ERR_BODY_TOO_LARGE, plain or after gzip decoding', async (t) => {
  const big = Buffer.alloc(200_000, 1);
  const base = await serve(t, (req, res) => {
    if (req.url === '/gz') {
      res.writeHead(200, { 'content-encoding': 'gzip' });
      res.end(gzipSync(big)); // ~200 bytes on the wire, 200 kB decoded
    } else {
      res.writeHead(200);
      res.end(big);
    }
  });
  const c = client(t, { maxBodyBytes: 100_000 });
  await assert.rejects(c.get(`${base}/plain`), isCode('CT_ERR_BODY_TOO_LARGE', /over 100000 bytes/));
  await assert.rejects(c.get(`${base}/gz`), isCode('CT_ERR_BODY_TOO_LARGE', /gzip body over 100000 bytes/));
  // Exactly at the limit is fine.
  const ok = client(t, { maxBodyBytes: 200_000 });
  assert.equal((await ok.get(`${base}/plain`)).body.length, 200_000);
  assert.equal((await ok.get(`${base}/gz`)).body.length, 200_000);
});

test('a corrupt gzip body → CT_ERR_BAD_RESPONSE', async (t) => {
  const base = await serve(t, (_req, res) => {
    res.writeHead(200, { 'content-encoding': 'gzip' });
    res.end(Buffer.from('this is not gzip'));
  });
  await assert.rejects(client(t).get(base), isCode('CT_ERR_BAD_RESPONSE', /bad gzip body/));
});

test('bad JSON → CT_ERR_BAD_RESPONSE (kind "parse")', async (t) => {
  const base = await serve(t, (_req, res) => res.end('<html>maintenance</html>'));
  await assert.rejects(client(t).getJson(`${base}/ct/v1/get-sth`), (err: unknown) => {
    assert.ok(isCertstreamError(err, 'CT_ERR_BAD_RESPONSE'));
    assert.match(err.message, /body is not JSON/);
    assert.equal(errorKind(err), 'parse');
    return true;
  });
});

test('the caller aborting → CT_ERR_ABORTED, not a timeout', async (t) => {
  const ac = new AbortController();
  const base = await serve(t, () => ac.abort()); // abort once the request has arrived
  await assert.rejects(client(t).get(base, ac.signal), isCode('CT_ERR_ABORTED'));
});

test('connection refused and a dropped connection → CT_ERR_HTTP', async (t) => {
  // A port that was just free.
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const port = (probe.address() as AddressInfo).port;
  probe.close();
  await once(probe, 'close');
  const c = client(t);
  await assert.rejects(c.get(`http://127.0.0.1:${port}/`), (err: unknown) => {
    assert.ok(isCertstreamError(err, 'CT_ERR_HTTP'), String(err));
    assert.equal(errorKind(err), 'http');
    return true;
  });
  const base = await serve(t, (req) => req.socket.destroy());
  await assert.rejects(c.get(base), isCode('CT_ERR_HTTP'));
});

test('errorKind maps codes onto certstream_log_errors_total kinds', () => {
  const k = (code: ErrorCode) => errorKind(new CertstreamError(code, 'x'));
  assert.equal(k('CT_ERR_RATE_LIMITED'), 'rate_limited');
  assert.equal(k('CT_ERR_TIMEOUT'), 'timeout');
  assert.equal(k('CT_ERR_HTTP'), 'http');
  for (const code of ['CT_ERR_BAD_RESPONSE', 'CT_ERR_BAD_LEAF', 'CT_ERR_BAD_TILE', 'CT_ERR_BAD_CHECKPOINT'] as const) {
    assert.equal(k(code), 'parse', code);
  }
  assert.equal(errorKind(new HttpStatusError(429, 'u', 1)), 'rate_limited');
  assert.equal(errorKind(new HttpStatusError(500, 'u', undefined)), 'http');
  assert.equal(errorKind(new Error('plain')), 'parse');
  // A cancelled request says nothing about the log's data (it used to fall through to `parse`).
  assert.equal(k('CT_ERR_ABORTED'), 'http');
  assert.equal(k('CT_ERR_TOO_LARGE'), 'parse');
});

// The timeout tests wait for real deadlines; run them side by side to keep the file fast.
describe('timeouts', { concurrency: true }, () => {
  test('a server that never answers → CT_ERR_TIMEOUT (kind "timeout") after timeoutMs', async (t) => {
    let arrived!: () => void;
    const requestSeen = new Promise<void>((r) => (arrived = r));
    const base = await serve(t, () => arrived()); // accepts the request, never responds
    const c = client(t, { timeoutMs: 150 });
    await assert.rejects(c.get(`${base}/ct/v1/get-sth`), (err: unknown) => {
      assert.ok(isCertstreamError(err, 'CT_ERR_TIMEOUT'), String(err));
      assert.match(err.message, /timed out after 150 ms/);
      assert.equal(errorKind(err), 'timeout');
      return true;
    });
    // Bounded: on a starved machine the deadline can expire before the request is even sent; then this
    // fails instead of hanging the whole file (seen once with a load average of 18 on 2 cores).
    let noArrival: NodeJS.Timeout | undefined;
    await Promise.race([
      requestSeen,
      new Promise((_, reject) => (noArrival = setTimeout(() => reject(new Error('the request never reached the server')), 5_000))),
    ]);
    clearTimeout(noArrival);
  });

  test('a body that stalls after the headers → CT_ERR_TIMEOUT too (the deadline covers the body)', async (t) => {
    const base = await serve(t, (_req, res) => {
      res.writeHead(200, { 'content-length': '1000' });
      res.write('{"entries":[');
    });
    await assert.rejects(client(t, { timeoutMs: 150 }).getJson(base), isCode('CT_ERR_TIMEOUT'));
  });

  test('the deadline starts when a request is sent: one queued behind a hanging request on a 1-connection pool succeeds', async (t) => {
    const base = await serve(t, (req, res) => {
      if (req.url === '/hang') return; // never answered
      res.end('served');
    });
    const c = client(t, { timeoutMs: 400, connections: 1 });
    const hanging = c.get(`${base}/hang`);
    hanging.catch(() => undefined);
    // Queued for the only connection; waits ~400 ms for it, which must not count against its own deadline.
    const queued = c.get(`${base}/ok`);
    await assert.rejects(hanging, isCode('CT_ERR_TIMEOUT'));
    assert.equal((await queued).body.toString(), 'served');
  });

  test('one hanging log does not hold back another on the same client; after a timeout the next request works', async (t) => {
    let hung = 0;
    const slow = await serve(t, (req, res) => {
      if (req.url === '/hang') {
        hung++;
        return; // never answered
      }
      res.end('recovered');
    });
    const fast = await serve(t, (_req, res) => res.end('fast'));
    const c = client(t, { timeoutMs: 300 });
    // Fill more than the per-origin connection count with hanging requests.
    const hanging = Array.from({ length: 10 }, () => c.get(`${slow}/hang`));
    for (const p of hanging) p.catch(() => undefined);
    for (let i = 0; i < 5; i++) assert.equal((await c.get(fast)).body.toString(), 'fast');
    const results = await Promise.allSettled(hanging);
    for (const r of results) {
      assert.equal(r.status, 'rejected');
      assert.ok(isCertstreamError(r.reason, 'CT_ERR_TIMEOUT'), String(r.reason));
    }
    assert.ok(hung >= 1);
    assert.equal((await c.get(`${slow}/ok`)).body.toString(), 'recovered');
  });
});
