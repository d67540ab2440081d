/** The real server fed by the in-process FakeCtLog, on 127.0.0.1 port 0, plus event-driven waits. */
import { mkdtemp, rm } from 'node:fs/promises';
import { after } from 'node:test';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeCtLog, type FakeCtLogOptions } from '../../fake-ct-log/fake-ct-log.js';
import { validateConfig, type ServerConfig } from '../../src/config/server-config.js';
import { silentLogger } from '../../src/log/logger.js';
import { createServerMetrics, type ServerMetrics } from '../../src/metrics/server-metrics.js';
import { startServer, type ServerHandle } from '../../src/server.js';

export function testConfig(fake: FakeCtLog, stateDir: string, over: Partial<ServerConfig> = {}): ServerConfig {
  const r = validateConfig({ host: '127.0.0.1', port: '0', 'log-list': fake.logListUrl, 'state-dir': stateDir, 'poll-interval': '0.05' });
  if (!r.ok) throw new Error(r.problems.join('\n'));
  return { ...r.config, ...over };
}

const tempDirs: string[] = [];
// Removed once every test of the file is done, not in the test's own after-hooks: those run in
// registration order, so the directory would go before the server that writes into it is stopped
// (a final cursor flush into a removed directory fails the stop, as it should).
after(() => Promise.all(tempDirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true, maxRetries: 3 }))));

/** A fresh temporary directory, removed after the last test of the file. */
export async function tempDir(_t?: unknown): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'certstream-server-'));
  tempDirs.push(dir);
  return dir;
}

export async function startFake(t: { after(fn: () => Promise<void>): void }, options: FakeCtLogOptions = {}): Promise<FakeCtLog> {
  const fake = await FakeCtLog.start({ rfc6962Logs: 1, staticLogs: 1, initialSize: 300, ...options });
  t.after(() => fake.close());
  return fake;
}

export async function startReal(config: ServerConfig, metrics: ServerMetrics = createServerMetrics({ processMetrics: false })): Promise<ServerHandle> {
  return startServer(config, { logger: silentLogger, metrics, env: {}, ingest: { partialTileDelayMs: 0, cursorFlushMs: 50 } });
}

/** Resolves when `predicate` holds, re-checking after every request the fake log serves. */
export function whenFake(fake: FakeCtLog, predicate: () => boolean): Promise<void> {
  if (predicate()) return Promise.resolve();
  return new Promise((resolve) => {
    const off = fake.onRequest(() =>
      setImmediate(() => {
        if (predicate()) {
          off();
          resolve();
        }
      }),
    );
  });
}

/** Every followed log has been polled and streams from `next` onwards (per log url). */
export function polledAll(server: ServerHandle): boolean {
  const logs = server.health().logs;
  return logs.length > 0 && logs.every((l) => l.last_success !== null && l.tree_size !== null);
}

export function nextIndexes(server: ServerHandle): Map<string, number> {
  return new Map(server.health().logs.map((l) => [l.url, l.next_index]));
}

/**
 * Resolves when `predicate` holds, checking every `everyMs`; rejects with `what` after `deadlineMs`.
 * For conditions no event announces (timers inside the server, e.g. the cursor flush).
 */
export async function pollUntil(what: string, predicate: () => boolean | Promise<boolean>, deadlineMs = 20_000, everyMs = 20): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${deadlineMs} ms waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
