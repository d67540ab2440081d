import { test } from 'node:test';
import assert from 'node:assert/strict';
import { watch } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { CURSOR_FILE, parseCursorFile } from '../../src/ct/cursor-store.js';
import { startFake, tempDir } from '../server/server-harness.js';
import { run } from './run-cli.js';
import { waitUntil } from '../support/wait-until.js';

test('a bad flag value: exit 78, one line on stderr, no stack', { timeout: 60_000 }, async () => {
  const r = run(['--port', 'eighty']);
  const { code } = await r.exit;
  assert.equal(code, 78);
  const lines = r.stderr().trimEnd().split('\n');
  assert.deepEqual(lines, ['certstream-server: --port: "eighty" is not an integer from 0 to 65535']);
  assert.deepEqual(r.stdout, []);
});

test('an unknown flag and a bad environment value: exit 78, one line each', { timeout: 60_000 }, async () => {
  const r = run(['--frobnicate'], { CERTSTREAM_POLL_INTERVAL: '-1' });
  assert.equal((await r.exit).code, 78);
  const lines = r.stderr().trimEnd().split('\n');
  assert.equal(lines.length, 2, r.stderr());
  assert.ok(lines.some((l) => /frobnicate/.test(l)));
  assert.ok(lines.some((l) => l.startsWith('certstream-server: --poll-interval:')));
  assert.ok(!/\n\s+at /.test(r.stderr()), 'no stack trace');
});

test('an unreadable or invalid log list: exit 78 before any socket opens', { timeout: 60_000 }, async (t) => {
  const dir = await tempDir(t);
  const missing = run(['--log-list', join(dir, 'missing.json'), '--state-dir', dir]);
  assert.equal((await missing.exit).code, 78);
  assert.equal(missing.stderr().trimEnd().split('\n').length, 1);
  const notAList = run(['--log-list', join(import.meta.dirname, '../../package.json'), '--state-dir', dir, '--port', '0']);
  assert.equal((await notAList.exit).code, 78);
  assert.equal(notAList.stderr().trimEnd().split('\n').length, 1, notAList.stderr());
  assert.ok(!notAList.stdout.some((l) => l.includes('"listening"')));
  // A log list URL that cannot be fetched (connection refused) is a configuration error too.
  const refused = run(['--log-list', 'http://127.0.0.1:1/log_list.json', '--state-dir', dir, '--port', '0']);
  assert.equal((await refused.exit).code, 78);
  assert.equal(refused.stderr().trimEnd().split('\n').length, 1, refused.stderr());
});

test('a corrupt cursor file: exit 78 with one line', { timeout: 60_000 }, async (t) => {
  const fake = await startFake(t);
  const dir = await tempDir(t);
  await writeFile(join(dir, CURSOR_FILE), '{"version": 1, "logs": {');
  const r = run(['--host', '127.0.0.1', '--port', '0', '--log-list', fake.logListUrl, '--state-dir', dir]);
  assert.equal((await r.exit).code, 78);
  const lines = r.stderr().trimEnd().split('\n');
  assert.equal(lines.length, 1, r.stderr());
  assert.match(lines[0], /cursor file/);
});

test('--help exits 0 and lists the contract flags', { timeout: 60_000 }, async () => {
  const r = run(['--help']);
  assert.equal((await r.exit).code, 0);
  const text = r.stdout.join('\n');
  for (const flag of ['--host', '--port', '--log-list', '--state-dir', '--backfill', '--poll-interval', '--user-agent', '--heartbeat-interval']) {
    assert.ok(text.includes(flag), flag);
  }
});

test('SIGTERM: clients closed with 1001, cursor file flushed, exit 0', { timeout: 60_000 }, async (t) => {
  const fake = await startFake(t);
  const dir = await tempDir(t);
  const r = run(['--host', '127.0.0.1', '--port', '0', '--log-list', fake.logListUrl, '--state-dir', dir, '--poll-interval', '0.05']);
  t.after(() => {
    if (r.child.exitCode === null) r.child.kill('SIGKILL');
  });
  const listening = await r.line('listening');
  const port = listening.port as number;
  assert.ok(port > 0);
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
  const received: { data: { source: { url: string }; cert_index: number } }[] = [];
  let wanted: { n: number; resolve: () => void } | undefined;
  ws.on('message', (d) => {
    received.push(JSON.parse(d.toString()));
    if (wanted && received.length >= wanted.n) wanted.resolve();
  });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  // Entries appended after the first poll are streamed (a log without a cursor starts at its head): wait
  // for every log's first poll, then append, then wait until 20 of them arrived.
  await waitUntil('every log polled once', 30_000, async () => {
    const h = (await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as { logs: { last_success: number | null }[] };
    return h.logs.length === fake.logs.length && h.logs.every((l) => l.last_success !== null);
  });
  fake.append(300);
  await new Promise<void>((resolve) => (received.length >= 20 ? resolve() : (wanted = { n: 20, resolve })));

  r.child.kill('SIGTERM');
  const [exit, closeCode] = await Promise.all([r.exit, closed]);
  assert.equal(exit.code, 0, r.stderr());
  assert.equal(closeCode, 1001);
  await r.line('stopped');

  const cursors = parseCursorFile(await readFile(join(dir, CURSOR_FILE), 'utf8'));
  assert.deepEqual([...cursors.keys()].sort(), fake.logs.map((l) => l.url).sort());
  // The saved cursor of each log is just past the last entry the client received from it.
  const lastSeen = new Map<string, number>();
  for (const m of received) lastSeen.set(m.data.source.url, m.data.cert_index);
  for (const [url, last] of lastSeen) assert.equal(cursors.get(url), last + 1, url);
});

/** Resolves when the cursor file in `dir` satisfies `done` (re-read on every change of the directory). */
function cursorsWhen(dir: string, done: (c: Map<string, number>) => boolean): Promise<Map<string, number>> {
  return new Promise((resolve) => {
    const check = async (): Promise<boolean> => {
      try {
        const c = parseCursorFile(await readFile(join(dir, CURSOR_FILE), 'utf8'));
        if (done(c)) {
          watcher.close();
          resolve(c);
          return true;
        }
      } catch {
        // not written yet, or being replaced
      }
      return false;
    };
    const watcher = watch(dir, () => void check());
    void check();
  });
}

test('kill -9, then a restart on the same state directory streams on from the saved cursors', { timeout: 180_000 }, async (t) => {
  const fake = await startFake(t);
  const dir = await tempDir(t);
  // No partial-tile delay: the static log's new entries sit in a partial tile, and the test waits on them.
  const args = ['--host', '127.0.0.1', '--port', '0', '--log-list', fake.logListUrl, '--state-dir', dir, '--poll-interval', '0.05',
    '--partial-tile-delay', '0', '--heartbeat-interval', '0'];
  type Update = { data: { source: { url: string }; cert_index: number } };
  /** Resolves once /healthz shows every log polled, re-checked after each request the fake log serves. */
  const polledAll = (port: number) =>
    new Promise<void>((resolve) => {
      let done = false;
      const check = () =>
        void fetch(`http://127.0.0.1:${port}/healthz`)
          .then((r) => r.json() as Promise<{ logs: { last_success: number | null }[] }>)
          .then((h) => {
            if (!done && h.logs.length === 2 && h.logs.every((l) => l.last_success !== null)) {
              done = true;
              off();
              resolve();
            }
          }, () => {});
      const off = fake.onRequest(check);
      check();
    });
  const follow = async (port: number, n: number): Promise<{ messages: Update[]; ws: WebSocket; all: Promise<void> }> => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    const messages: Update[] = [];
    let resolveAll: () => void = () => {};
    const all = new Promise<void>((resolve) => (resolveAll = resolve));
    ws.on('message', (d) => {
      messages.push(JSON.parse(d.toString()) as Update);
      if (messages.length === n) resolveAll();
    });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    return { messages, ws, all };
  };

  const a = run(args);
  t.after(() => {
    if (a.child.exitCode === null) a.child.kill('SIGKILL');
  });
  const portA = (await a.line('listening')).port as number;
  // Every log must have been polled (its cursor set at the head) before the logs grow, or the growth
  // would count as the starting head and never be streamed.
  await polledAll(portA);
  const first = await follow(portA, 200);
  fake.append(100);
  await first.all;
  const last = new Map<string, number>();
  for (const m of first.messages) last.set(m.data.source.url, m.data.cert_index);
  const saved = await cursorsWhen(dir, (c) => [...last].every(([url, i]) => c.get(url) === i + 1));
  a.child.kill('SIGKILL');
  assert.equal((await a.exit).signal, 'SIGKILL');
  first.ws.terminate();

  // The logs grow while it is down; the restarted server sees the old heads until a client is connected.
  const heads = fake.logs.map((l) => [l.url, fake.size(l.url)] as const);
  fake.append(30);
  for (const [url, size] of heads) fake.pinHead(url, size);
  const b = run(args);
  t.after(() => {
    if (b.child.exitCode === null) b.child.kill('SIGKILL');
  });
  const port = (await b.line('listening')).port as number;
  await polledAll(port);
  const second = await follow(port, 60);
  for (const [url] of heads) fake.pinHead(url, undefined);
  await second.all;
  for (const [url, from] of saved) {
    const indexes = second.messages.filter((m) => m.data.source.url === url).map((m) => m.data.cert_index);
    assert.deepEqual(indexes, Array.from({ length: 30 }, (_, i) => from + i), `${url}: resumes at the saved cursor`);
  }
  b.child.kill('SIGTERM');
  assert.equal((await b.exit).code, 0);
  second.ws.terminate();
});
