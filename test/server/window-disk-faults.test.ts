/**
 * Issue 18 §2 with the real server, the fake CT log and real WebSocket clients: the replay window's disk
 * fills (a tmpfs this test mounts, as root; skipped with the reason otherwise), a closed segment and the
 * active one are deleted under the running server.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, rmSync, truncateSync, unlinkSync, writeSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { createLogger } from '../../src/log/logger.js';
import { createServerMetrics, type ServerMetrics } from '../../src/metrics/server-metrics.js';
import { REPLAY_DIR } from '../../src/replay/local-replay-window.js';
import { startServer, type ServerHandle } from '../../src/server.js';
import type { FakeCtLog } from '../../fake-ct-log/fake-ct-log.js';
import { metricValue } from '../stream/hub-harness.js';
import { ConditionWaiters, waitUntil } from '../support/wait-until.js';
import { nextIndexes, pollUntil, startFake, tempDir, testConfig, whenFake } from './server-harness.js';
import type { ServerConfig } from '../../src/config/server-config.js';

type Line = Record<string, unknown>;

async function start(fake: FakeCtLog, stateDir: string, over: Partial<ServerConfig> = {}): Promise<{ server: ServerHandle; metrics: ServerMetrics; lines: Line[] }> {
  const metrics = createServerMetrics({ processMetrics: false });
  const lines: Line[] = [];
  const logger = createLogger({ write: (l) => lines.push(JSON.parse(l) as Line) });
  const server = await startServer(testConfig(fake, stateDir, over), { logger, metrics, env: {}, ingest: { partialTileDelayMs: 0, cursorFlushMs: 50 } });
  return { server, metrics, lines };
}

/** A WebSocket client that records every certificate it receives as `url#index`, and how it closed. */
class Collector {
  readonly seen: string[] = [];
  closedWith: number | undefined;
  private readonly waiters = new ConditionWaiters();
  readonly ws: WebSocket;

  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as { message_type: string; data: { cert_index: number; source: { url: string } } };
      if (m.message_type === 'certificate_update') this.seen.push(`${m.data.source.url}#${m.data.cert_index}`);
      this.waiters.notify();
    });
    this.ws.on('error', () => undefined);
    this.ws.once('close', (code) => {
      this.closedWith = code;
      this.waiters.notify();
    });
  }

  opened(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
  }

  /** Resolves when `cond` holds; rejects when the connection closes first. */
  until(what: string, ms: number, cond: () => boolean): Promise<void> {
    return this.waiters.until(what, ms, () => {
      if (cond()) return true;
      if (this.closedWith !== undefined) throw new Error(`closed with ${this.closedWith} before ${what} (${this.seen.length} frames)`);
      return false;
    });
  }

  close(): void {
    this.ws.terminate();
  }
}

function segments(stateDir: string): string[] {
  return readdirSync(join(stateDir, REPLAY_DIR)).filter((f) => f.endsWith('.seg')).sort().map((f) => join(stateDir, REPLAY_DIR, f));
}

/** Records in a segment file (walking the length fields). */
function recordCount(path: string): number {
  const buf = readFileSync(path);
  let n = 0;
  // (The length word's top bit marks a compact record: replay/compact-record.ts.)
  for (let at = 0; at < buf.length; at += 8 + (buf.readUInt32LE(at) & 0x7fffffff)) n++;
  return n;
}

const atHeads = (fake: FakeCtLog, server: ServerHandle) => () => fake.logs.every((l) => nextIndexes(server).get(l.url) === fake.size(l.url));

/** Every entry of the fake's logs from `from` (per log) to its head, as `url#index`. */
function entriesSince(fake: FakeCtLog, from: Map<string, number>): string[] {
  const out: string[] = [];
  for (const l of fake.logs) for (let i = from.get(l.url) ?? 0; i < fake.size(l.url); i++) out.push(`${l.url}#${i}`);
  return out;
}

const sizes = (fake: FakeCtLog) => new Map(fake.logs.map((l) => [l.url, fake.size(l.url)]));

/** Mounts a tmpfs of `size` on a fresh directory (unmounted after the test); undefined when not root. */
async function mountTmpfs(t: TestContext, size: string): Promise<string | undefined> {
  if (process.getuid?.() !== 0) {
    t.skip('needs root to mount a tmpfs (CI runs as root)');
    console.log('skipped: mounting a tmpfs needs root');
    return undefined;
  }
  const dir = join(await tempDir(t), 'tmpfs');
  await mkdir(dir);
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  t.after(() => execFileSync('umount', ['-l', dir]));
  return dir;
}

/** Fills the file system holding `path` to the last byte with a new file `name` there; returns its path. */
function fill(path: string, name: string): string {
  const filler = join(path, name);
  const fd = openSync(filler, 'w');
  try {
    for (const chunk of [1 << 20, 64 << 10, 4 << 10, 512, 1]) {
      const buf = Buffer.alloc(chunk, 1);
      for (;;) {
        try {
          if (writeSync(fd, buf) < chunk) break;
        } catch {
          break;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return filler;
}

test('a full disk: appends stop whole, /healthz says why, plain clients go on, appending resumes, a restart keeps it all', { timeout: 90_000 }, async (t) => {
  const mnt = await mountTmpfs(t, '24m');
  if (mnt === undefined) return;
  const fake = await startFake(t, { rfc6962Logs: 1, staticLogs: 1, initialSize: 100 });
  const stateDir = join(mnt, 'state');
  const a = await start(fake, stateDir, { durablePingIntervalMs: 50 });
  let closedA = false;
  t.after(() => (closedA ? undefined : a.server.close().catch(() => undefined)));
  await whenFake(fake, atHeads(fake, a.server));
  const plain = new Collector(`ws://127.0.0.1:${a.server.port}/`);
  t.after(() => plain.close());
  await plain.opened();

  // Full, but for two pages: the next batch is written in part (a short write), then not at all.
  const filler = fill(mnt, 'filler');
  truncateSync(filler, Math.max(0, readFileSync(filler).length - 8192));
  const beforeFull = sizes(fake);
  fake.append(60);
  const appendErrors = () => metricValue(a.metrics, 'certstream_replay_window_append_errors_total', {});
  await pollUntil('append errors', async () => (await appendErrors()) > 0);
  // Now full to the last byte.
  const filler2 = fill(mnt, 'filler2');

  const health = a.server.health();
  assert.equal(health.status, 'degraded');
  assert.equal(health.problems.length, 1, JSON.stringify(health.problems));
  assert.match(health.problems[0], /replay window cannot append .*no space left on device/i);
  await whenFake(fake, atHeads(fake, a.server));
  await plain.until('the plain client gets what the window could not store', 10_000, () => entriesSince(fake, beforeFull).every((e) => plain.seen.includes(e)));
  // Failures repeat every flush period (50 ms): one line each per minute, not one per failure.
  const count = (prefix: string) => a.lines.filter((l) => String(l.msg).startsWith(prefix)).length;
  // A new durable NAME makes the positions file dirty: it cannot be written (a failed write stays dirty,
  // and is retried every period). A new one each turn until a write failed (another writer's failed
  // temporary file can free a page for a moment).
  const durables: Collector[] = [];
  t.after(() => durables.forEach((d) => d.close()));
  await pollUntil('a failed positions flush', () => {
    if (count('positions file flush failed') > 0) return true;
    durables.push(new Collector(`ws://127.0.0.1:${a.server.port}/?id=disk${durables.length}`));
    return false;
  }, 20_000, 100);
  const cursorErrors = () => metricValue(a.metrics, 'certstream_cursor_flush_errors_total', {});
  const cursorErrorsBefore = await cursorErrors();
  await pollUntil('ten more failed cursor flushes', async () => {
    fake.append(1);
    return (await cursorErrors()) >= cursorErrorsBefore + 10;
  });
  assert.equal(count('positions file flush failed'), 1, 'positions flush failures: one line');
  assert.equal(count('replay window: cannot append'), 1, 'append failures: one line');
  const keptOut = await appendErrors();

  // Space again: the window appends by itself (the ingest keeps publishing), health is ok.
  rmSync(filler);
  rmSync(filler2);
  await pollUntil('appending again', () => {
    fake.append(2);
    return a.server.health().problems.length === 0;
  });
  const resumed = sizes(fake);
  fake.append(40);
  await whenFake(fake, atHeads(fake, a.server));
  assert.ok(a.lines.some((l) => l.msg === 'replay window: appending again'));
  const published = a.server.hub.stats().published;
  const keptOutTotal = await appendErrors();
  assert.ok(keptOutTotal >= keptOut);
  closedA = true;
  await a.server.close();

  // After a restart every entry the window took is replayed (the failed write left nothing half-indexed).
  const b = await start(fake, stateDir);
  t.after(() => b.server.close().catch(() => undefined));
  const replay = new Collector(`ws://127.0.0.1:${b.server.port}/full-stream?since=0`);
  t.after(() => replay.close());
  const afterResume = entriesSince(fake, resumed);
  await replay.until('every entry appended after the disk had room again', 15_000, () => afterResume.every((e) => replay.seen.includes(e)));
  assert.equal(await metricValue(b.metrics, 'certstream_replay_window_corrupt_records_total', {}), 0);
  assert.ok(!b.lines.some((l) => String(l.msg).includes('torn tail')), 'no torn tail to cut');
  // Everything published minus what was kept out is in the window, once.
  await replay.until('the whole window', 15_000, () => replay.seen.length >= published - keptOutTotal);
  assert.equal(new Set(replay.seen).size, replay.seen.length, 'no entry twice');
  assert.equal(replay.closedWith, undefined);
});

test('a closed segment deleted under the server: one log line, a since=0 client gets the rest and the loss is counted', { timeout: 60_000 }, async (t) => {
  const fake = await startFake(t, { rfc6962Logs: 1, staticLogs: 1, initialSize: 20 });
  const stateDir = await tempDir(t);
  // A 15 s window: a new segment every second.
  const first = await start(fake, stateDir, { replayWindowMs: 15_000 });
  await pollUntil('four segments', () => {
    fake.append(2);
    return segments(stateDir).length >= 4;
  }, 20_000, 50);
  await whenFake(fake, atHeads(fake, first.server));
  await first.server.close();
  // Restarted: the window's memory cache is empty, every replay reads the files.
  const { server, metrics, lines } = await start(fake, stateDir, { replayWindowMs: 15_000 });
  t.after(() => server.close());
  await whenFake(fake, atHeads(fake, server));
  const files = segments(stateDir);
  const lost = recordCount(files[1]);
  assert.ok(lost > 0);
  const total = files.reduce((n, f) => n + recordCount(f), 0);
  unlinkSync(files[1]);
  const client = new Collector(`ws://127.0.0.1:${server.port}/full-stream?since=0`);
  t.after(() => client.close());
  await client.until('every frame but the deleted segment', 15_000, () => client.seen.length === total - lost);
  assert.equal(new Set(client.seen).size, client.seen.length, 'none twice');
  assert.equal(await metricValue(metrics, 'certstream_resume_truncated_messages_total', { stream: 'full' }), lost, 'the frames lost are counted');
  assert.equal(lines.filter((l) => String(l.msg).includes('vanished')).length, 1, 'one log line');
  // Live frames keep coming after the replay.
  const before = client.seen.length;
  fake.append(5);
  await client.until('live frames', 10_000, () => client.seen.length >= before + 10);
  assert.equal(client.closedWith, undefined);
});

test('the active segment deleted under the server: sealed, a new one opened, and a restart keeps what came after', { timeout: 60_000 }, async (t) => {
  const fake = await startFake(t, { rfc6962Logs: 1, staticLogs: 1, initialSize: 50 });
  const stateDir = await tempDir(t);
  const a = await start(fake, stateDir);
  await whenFake(fake, atHeads(fake, a.server));
  fake.append(20);
  await whenFake(fake, atHeads(fake, a.server));
  const [active] = segments(stateDir);
  assert.ok(recordCount(active) > 0, 'entries in the active segment');
  assert.equal(segments(stateDir).length, 1);
  unlinkSync(active);
  fake.append(10);
  await whenFake(fake, atHeads(fake, a.server));
  await waitUntil('a new active segment', 10_000, () => segments(stateDir).length === 1);
  assert.ok(a.lines.some((l) => String(l.msg).includes('segment being written was deleted')));
  const mark = sizes(fake);
  fake.append(40);
  await whenFake(fake, atHeads(fake, a.server));
  await a.server.close();

  const b = await start(fake, stateDir);
  t.after(() => b.server.close());
  const client = new Collector(`ws://127.0.0.1:${b.server.port}/full-stream?since=0`);
  t.after(() => client.close());
  const after = entriesSince(fake, mark);
  await client.until('the entries written after the deletion was noticed', 10_000, () => after.every((e) => client.seen.includes(e)));
});
