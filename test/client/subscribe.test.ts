// The client library against the real server through a proxy that cuts connections and black-holes
// them: a durable subscription gives the caller every entry once (0 lost, 0 repeats), notices the
// black hole within two heartbeat intervals, and reports connects, disconnects and resumes. Also the
// pure pieces (URL building, the per-log repeat filter) and the README's example, run as written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { subscribe, type CertificateUpdate } from '../../src/client/index.js';
import { SeenEntries } from '../../src/client/seen-entries.js';
import { streamUrl } from '../../src/client/stream-url.js';
import { isCertstreamError } from '../../src/errors.js';
import { range } from '../support/entry-collector.js';
import { CuttableProxy } from '../support/tcp-proxy.js';
import { ConditionWaiters } from '../support/wait-until.js';
import { polledAll, startFake, startReal, tempDir, testConfig, whenFake } from '../server/server-harness.js';

const ROOT = join(import.meta.dirname, '../..');

test('stream URLs: targets, parameters, and one-line refusals', () => {
  assert.equal(streamUrl('local'), 'ws://127.0.0.1:4000/');
  assert.equal(streamUrl('http://h:4000/full-stream', { id: 'a.b_c-1', since: 1767225600.5 }), 'ws://h:4000/full-stream?id=a.b_c-1&since=1767225600.5');
  assert.equal(streamUrl('https://h/x?keep=1', { verified: true, match: 'example.com,~paypal', token: 't' }), 'wss://h/x?keep=1&match=example.com%2C%7Epaypal&verified=1&token=t');
  for (const [target, query, why] of [
    ['ftp://h/', {}, /must be ws:\/\/, wss:\/\//],
    ['not a url', {}, /neither a stream URL/],
    ['ws://h/', { id: 'a/b' }, /id 'a\/b' must be/],
    ['ws://h/', { id: '' }, /must be 1-64/],
    ['ws://h/', { since: -1 }, /since must be/],
  ] as const) {
    assert.throws(() => streamUrl(target, query), (err) => isCertstreamError(err, 'CLIENT_ERR_USAGE') && why.test(err.message) && !err.message.includes('\n'), target);
  }
});

test('repeats are dropped per log and jumps reported as gaps, with one number per log', () => {
  const seen = new SeenEntries(2);
  assert.deepEqual(seen.offer('a', 5), { kind: 'new' });
  assert.deepEqual(seen.offer('a', 6), { kind: 'new' });
  assert.deepEqual(seen.offer('a', 6), { kind: 'repeat' });
  assert.deepEqual(seen.offer('a', 3), { kind: 'repeat' });
  assert.deepEqual(seen.offer('a', 10), { kind: 'gap', from: 7, to: 9 });
  assert.deepEqual(seen.offer('b', 0), { kind: 'new' });
  assert.deepEqual(seen.offer('c', 0), { kind: 'new' });
  assert.equal(seen.size, 2, 'the least recently seen log is forgotten beyond the bound');
  assert.deepEqual(seen.offer('a', 1), { kind: 'new' }, 'forgotten: taken as new');
});

test('through cuts and a black hole: every entry once, the dead connection noticed', { timeout: 120_000 }, async (t) => {
  const fake = await startFake(t, { rfc6962Logs: 1, staticLogs: 1, initialSize: 50 });
  const server = await startReal(testConfig(fake, await tempDir(t), { heartbeatIntervalMs: 200, durablePingIntervalMs: 100 }));
  t.after(() => server.close());
  await whenFake(fake, () => polledAll(server));
  const proxy = await CuttableProxy.start(server.port);
  t.after(() => proxy.close());

  const sub = subscribe(`ws://127.0.0.1:${proxy.port}/full-stream`, { id: 'library-test', heartbeatIntervalMs: 200, backoffBaseMs: 20, backoffMaxMs: 200 });
  t.after(() => sub.close());
  const given = new Map<string, number[]>();
  const events: string[] = [];
  const disconnects: string[] = [];
  const waiters = new ConditionWaiters();
  sub.on('entry', (m: CertificateUpdate) => {
    const list = given.get(m.data.source.url) ?? [];
    list.push(m.data.cert_index);
    given.set(m.data.source.url, list);
    waiters.notify();
  });
  for (const ev of ['connect', 'resume', 'repeat'] as const) sub.on(ev, () => (events.push(ev), waiters.notify()));
  sub.on('disconnect', ({ code, reason }) => (events.push('disconnect'), disconnects.push(`${code} ${reason}`), waiters.notify()));
  const count = (ev: string) => events.filter((e) => e === ev).length;
  await waiters.until('connected', 10_000, () => count('connect') === 1);
  const base = new Map(fake.logs.map((l) => [l.url, fake.size(l.url)]));
  const complete = () => fake.logs.every((l) => (given.get(l.url) ?? []).includes(fake.size(l.url) - 1));

  fake.append(100);
  await waiters.until('the first 100 entries', 30_000, complete);
  // A cut while entries arrive: the TCP connection dies, new ones are refused for a moment.
  proxy.cutAll();
  fake.append(100);
  await waiters.until('the disconnect of the cut', 10_000, () => count('disconnect') === 1);
  proxy.restore();
  await waiters.until('everything after the cut', 30_000, complete);
  // A black hole: the connection stays open but nothing arrives; only liveness can notice it.
  proxy.stall();
  fake.append(100);
  // (Only liveness can end this connection: the server still writes heartbeats into the void.)
  await waiters.until('the black hole noticed', 10_000, () => disconnects.some((d) => /black-holed/.test(d)), () => disconnects.join(' / '));
  proxy.unstall();
  await waiters.until('everything after the black hole', 30_000, complete);

  for (const l of fake.logs) {
    assert.deepEqual(given.get(l.url), range(base.get(l.url)!, fake.size(l.url)), `${l.url}: each entry once, in order`);
  }
  assert.ok(count('resume') >= 2, 'each reconnect of the durable subscription is a resume');
  console.log(`client library: ${count('connect')} connects, ${count('repeat')} repeats dropped before the caller`);
});

test('the README example runs as written against a server', { timeout: 60_000 }, async (t) => {
  const fake = await startFake(t, { rfc6962Logs: 1, staticLogs: 0, initialSize: 10 });
  const server = await startReal(testConfig(fake, await tempDir(t)));
  t.after(() => server.close());
  await whenFake(fake, () => polledAll(server));
  const child = spawn(process.execPath, [join(ROOT, 'examples/subscribe.mjs'), `${server.url.replace('http', 'ws')}/full-stream`, '5'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += String(d)));
  const lines: string[] = [];
  createInterface({ input: child.stdout }).on('line', (l) => lines.push(l));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    child.stderr.on('data', () => stderr.includes('connected to') && resolve());
    child.once('exit', () => reject(new Error(`example exited early: ${stderr} (is dist/ built? npm run build)`)));
  });
  fake.append(5);
  assert.equal(await exited, 0, stderr);
  assert.equal(lines.length, 5);
  for (const [i, line] of lines.entries()) assert.match(line, new RegExp(`^${fake.logs[0].url.replace(/[.]/g, '\\.')} ${10 + i} \\S`));
});
