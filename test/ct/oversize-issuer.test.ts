/**
 * Issue 10 item 2: issuers are bounded in bytes, an oversized (but hash-valid) issuer is never cached or
 * rendered, and the entries that name it are counted as `parse` errors of their log and skipped.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { synthesiseCerts, tileRecord } from '../../fake-ct-log/synthetic.js';
import { HttpClient } from '../../src/ct/http-client.js';
import { IssuerCache } from '../../src/ct/issuer-cache.js';
import { MAX_CERT_BYTES } from '../../src/ct/size-limits.js';
import { StaticFollower } from '../../src/ct/static-follower.js';
import type { LogDescriptor } from '../../src/ct/types.js';
import { isCertstreamError } from '../../src/errors.js';
import { followerHarness } from '../support/follower-deps.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A hostile static-ct-api log: one full tile whose even entries name a 2 MiB issuer (which hashes right). */
async function hostileLog(): Promise<{ server: Server; base: string; issuerRequests: () => number; big: Buffer[] }> {
  const synth = await synthesiseCerts(4);
  const big = [randomBytes(2 * 1024 * 1024), randomBytes(2 * 1024 * 1024)];
  const issuers = new Map([synth.ca, ...big].map((c) => [sha256(c), c]));
  const parts: Buffer[] = [];
  for (let i = 0; i < 256; i++) {
    const chain = i % 2 === 0 ? [big[(i / 2) % 2], synth.ca] : [synth.ca];
    const rec = tileRecord(synth.leaves[i % synth.leaves.length], chain, 1_700_000_000_000 + i);
    rec.bytes.writeUIntBE(i, rec.leafIndexOffset, 5);
    parts.push(rec.bytes);
  }
  const tile = Buffer.concat(parts);
  let served = 0;
  const server = createServer((req, res) => {
    const path = req.url ?? '';
    if (path === '/log/checkpoint') return void res.end(`hostile.example/log\n256\n${Buffer.alloc(32).toString('base64')}\n\n— sig\n`);
    if (path === '/log/tile/data/000') return void res.end(tile);
    const m = /^\/log\/issuer\/([0-9a-f]{64})$/.exec(path);
    const der = m ? issuers.get(m[1]) : undefined;
    if (!der) return void res.writeHead(404).end();
    served++;
    res.end(der);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}/log/`, issuerRequests: () => served, big };
}

describe('oversized issuers', () => {
  let hostile: Awaited<ReturnType<typeof hostileLog>>;
  before(async () => {
    hostile = await hostileLog();
  });
  after(() => {
    hostile.server.closeAllConnections();
    hostile.server.close();
  });

  it('entries naming an oversized issuer are handed on as errors (the sink skips and counts them); the others stream; nothing big is kept', async () => {
    const log: LogDescriptor = {
      kind: 'static', url: hostile.base, name: 'hostile', operator: 'x', logId: 'x', monitoringUrl: hostile.base, state: 'usable',
    };
    const h = await followerHarness(log, { backfill: 256 });
    // The follower hands undecodable entries to the sink, which counts and skips them (stream/ingest-sink.ts).
    const refused: number[] = [];
    const collect = h.deps.sink;
    h.deps.sink = (l, entries) => {
      for (const e of entries) if ('error' in e && isCertstreamError(e.error, 'CT_ERR_TOO_LARGE')) refused.push(e.index);
      collect(l, entries);
    };
    const issuers = new IssuerCache(h.http);
    const f = new StaticFollower(h.deps, { issuers });
    try {
      f.start();
      await h.collector.until(log.url, 256);
      // The log's cursor passed the skipped entries (they never become valid): wait for the last delivery.
      assert.deepEqual(h.collector.indices(log.url), Array.from({ length: 128 }, (_, i) => 2 * i + 1));
      for (const e of h.collector.byLog.get(log.url) ?? []) {
        for (const c of e.chain) assert.ok(c.length <= MAX_CERT_BYTES, `entry ${e.index} carries a chain cert of ${c.length} bytes`);
      }
      assert.deepEqual(refused, Array.from({ length: 128 }, (_, i) => 2 * i), 'every other entry handed on as CT_ERR_TOO_LARGE');
      assert.deepEqual((await h.deps.metrics.logErrors.get()).values, [], 'no failure of the log itself: nothing retried');
      assert.ok(issuers.bytes <= MAX_CERT_BYTES, `issuer cache holds ${issuers.bytes} bytes`);
      assert.equal(issuers.size, 1, 'only the real CA is cached');
      assert.equal(h.cursors.get(log.url), 256);
    } finally {
      await f.stop();
      await h.close();
    }
  });

  it('the cache is bounded in bytes, evicting the least recently used issuer', async () => {
    const certs = Array.from({ length: 6 }, () => randomBytes(40 * 1024));
    const byFp = new Map(certs.map((c) => [sha256(c), c]));
    const server = createServer((req, res) => void res.end(byFp.get((req.url ?? '').slice(-64)) ?? ''));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const http = new HttpClient({ userAgent: 'certstream-server-test/1', timeoutMs: 5000 });
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      const cache = new IssuerCache(http, { maxBytes: 100 * 1024 });
      for (const c of certs) assert.deepEqual(Buffer.from(await cache.get(base, sha256(c))), c);
      assert.equal(cache.size, 2, 'two 40 KiB issuers fit in 100 KiB');
      assert.ok(cache.bytes <= 100 * 1024);
      const before = cache.fetches;
      await cache.get(base, sha256(certs[5]));
      assert.equal(cache.fetches, before, 'the newest is still cached');
      await cache.get(base, sha256(certs[0]));
      assert.equal(cache.fetches, before + 1, 'the oldest was evicted');
    } finally {
      await http.close();
      server.closeAllConnections();
      server.close();
    }
  });
});
