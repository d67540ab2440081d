// Native TLS (--tls-cert/--tls-key) with certificates made by openssl for the test: the one port speaks
// https:// and wss://, serves the chain, and on SIGHUP gives new handshakes the new certificate while an
// open connection stays; a pair that does not load is refused at start (exit 78) and on reload (the
// old pair stays).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFile, writeFile } from 'node:fs/promises';
import { get } from 'node:https';
import { join } from 'node:path';
import { once } from 'node:events';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { createLogger } from '../../src/log/logger.js';
import { isCertstreamError } from '../../src/errors.js';
import { createServerMetrics } from '../../src/metrics/server-metrics.js';
import { startServer } from '../../src/server.js';
import { TestCa } from '../support/tls-certs.js';
import { upgrade } from '../support/ws-upgrade.js';
import { startFake, startReal, tempDir, testConfig } from './server-harness.js';

/** GET over https trusting only `ca`: the status and the SHA-256 fingerprint of the certificate served. */
function httpsGet(url: string, ca: Buffer): Promise<{ status: number; fingerprint: string }> {
  return new Promise((resolve, reject) => {
    // A new agent each time: a new handshake, not a kept-alive connection.
    get(url, { ca, agent: false }, (res) => {
      const fingerprint = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, fingerprint }));
    }).on('error', reject);
  });
}

/** What `openssl s_client -showcerts` prints (stdin closed: it quits after the handshake). */
function showCerts(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-showcerts'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.once('error', reject);
    child.once('close', () => resolve(out));
  });
}

test('TLS: https:// and wss:// on the port, the chain served, SIGHUP swaps the certificate for new handshakes only', { timeout: 60_000 }, async (t) => {
  const ca = TestCa.create();
  t.after(() => ca.remove());
  const first = ca.leaf('first');
  const second = ca.leaf('second');
  const fake = await startFake(t, { rfc6962Logs: 1, staticLogs: 0, initialSize: 10 });
  const dir = await tempDir(t);
  const [certFile, keyFile] = [join(dir, 'tls.crt'), join(dir, 'tls.key')];
  await copyFile(first.certFile, certFile);
  await copyFile(first.keyFile, keyFile);
  const lines: string[] = [];
  const server = await startServer(testConfig(fake, dir, { tlsCert: certFile, tlsKey: keyFile }), {
    logger: createLogger({ write: (l) => lines.push(l) }), metrics: createServerMetrics({ processMetrics: false }), env: {}, ingest: { partialTileDelayMs: 0 },
    connections: { firstRequestTimeoutMs: 500 },
  });
  t.after(() => server.close());
  assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  assert.deepEqual(await httpsGet(`${server.url}/healthz`, ca.pem), { status: 200, fingerprint: first.fingerprint });

  // The chain: the leaf and the CA, as the file holds them (openssl s_client shows what was sent).
  const shown = await showCerts(server.port);
  assert.equal(shown.match(/BEGIN CERTIFICATE/g)?.length, 2, 'leaf and CA sent');

  // A wss:// client trusting the CA gets frames, and keeps its connection over the reload.
  const wss = server.url.replace(/^https/, 'wss');
  const plain = await upgrade(`${wss}/`, { ca: ca.pem });
  assert.equal(plain.status, 101);
  let closed = false;
  plain.ws!.once('close', () => (closed = true));
  let frames = 0;
  plain.ws!.on('message', () => frames++);
  // The first-request timer applies to TLS connections too, and stops once a request came: a silent
  // TLS peer that connected after the client is closed by it, and the client is not.
  const silent = tlsConnect({ port: server.port, host: '127.0.0.1', ca: ca.pem });
  await once(silent, 'close');
  assert.equal(closed, false, 'the upgraded TLS connection outlived the first-request timeout');

  await copyFile(second.certFile, certFile);
  await copyFile(second.keyFile, keyFile);
  server.reload();
  assert.ok(lines.some((l) => l.includes('TLS certificate reloaded')));
  assert.equal((await httpsGet(`${server.url}/healthz`, ca.pem)).fingerprint, second.fingerprint, 'a new handshake gets the new certificate');
  assert.equal((plain.ws as unknown as { _socket: TLSSocket })._socket.getPeerCertificate().fingerprint256, first.fingerprint, 'the open connection keeps its session');
  const before = frames;
  fake.append(5);
  await new Promise<void>((resolve) => {
    const check = () => (frames >= before + 5 ? resolve() : plain.ws!.once('message', check));
    check();
  });
  assert.equal(closed, false, 'the open connection stayed');

  // A broken pair on reload: one log line, the old pair stays.
  await writeFile(certFile, 'not a certificate\n');
  server.reload();
  assert.equal(lines.filter((l) => l.includes('TLS certificate not reloaded')).length, 1);
  assert.equal((await httpsGet(`${server.url}/healthz`, ca.pem)).fingerprint, second.fingerprint);
  plain.ws!.close();
});

test('TLS: a key that is not the certificate\'s, or an unreadable file, is a configuration error at start', { timeout: 30_000 }, async (t) => {
  const ca = TestCa.create();
  t.after(() => ca.remove());
  const [one, two] = [ca.leaf('one'), ca.leaf('two')];
  const fake = await startFake(t, { rfc6962Logs: 1, staticLogs: 0, initialSize: 1 });
  const dir = await tempDir(t);
  for (const [cert, key, message] of [[one.certFile, two.keyFile, /not a usable certificate and key/], [one.certFile, join(dir, 'missing.key'), /--tls-key .*cannot read it \(ENOENT\)/]] as const) {
    await assert.rejects(startReal(testConfig(fake, dir, { tlsCert: cert, tlsKey: key })), (err: unknown) => isCertstreamError(err, 'CONFIG_ERR_INVALID') && message.test(err.message));
  }
});
