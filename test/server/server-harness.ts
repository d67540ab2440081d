/** The real server fed by the in-process FakeCtLog, on 127.0.0.1 port 0, plus event-driven waits. */
import { mkdtemp, rm } from 'node:fs/promises';
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

export async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'certstream-server-'));
  // Registered before the server's close: the server may still be writing (replay window) while this runs.
  t.after(() => rm(dir, { recursive: true, force: true, maxRetries: 20, retryDelay: 50 }));
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
