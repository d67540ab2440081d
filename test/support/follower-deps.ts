/** Builds the dependencies of a single follower against a FakeCtLog, with fast timings for tests. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CursorStore } from '../../src/ct/cursor-store.js';
import { HttpClient } from '../../src/ct/http-client.js';
import type { FollowerDeps } from '../../src/ct/log-follower.js';
import { parseLogList, selectLogs } from '../../src/ct/log-list.js';
import type { LogDescriptor } from '../../src/ct/types.js';
import { silentLogger } from '../../src/log/logger.js';
import { createServerMetrics } from '../../src/metrics/server-metrics.js';
import type { FakeCtLog } from '../../fake-ct-log/fake-ct-log.js';
import { EntryCollector } from './entry-collector.js';

export interface Harness {
  deps: FollowerDeps;
  collector: EntryCollector;
  cursors: CursorStore;
  http: HttpClient;
  close(): Promise<void>;
}

/** The descriptors of the fake's logs, as the log list selects them. */
export function fakeDescriptors(fake: FakeCtLog): LogDescriptor[] {
  return selectLogs(parseLogList(fake.logList()), { now: Date.now() });
}

/** Deps for following `log` with the given overrides; `close()` releases sockets and the temp dir. */
export async function followerHarness(log: LogDescriptor, overrides: Partial<FollowerDeps> = {}, timeoutMs = 2000): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'certstream-follower-'));
  const cursors = new CursorStore({ stateDir: dir, flushMs: 60_000 });
  await cursors.load();
  const http = new HttpClient({ userAgent: 'certstream-server-test/1 (test@example.invalid)', timeoutMs });
  const collector = new EntryCollector();
  const deps: FollowerDeps = {
    log,
    http,
    sink: collector.sink,
    cursors,
    metrics: createServerMetrics({ processMetrics: false }),
    logger: silentLogger,
    pollIntervalMs: 10,
    backfill: 0,
    backoff: { baseMs: 5, maxMs: 20 },
    maxRetryAfterMs: 50,
    now: Date.now,
    ...overrides,
  };
  return {
    deps,
    collector,
    cursors,
    http,
    async close() {
      await cursors.close();
      await http.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
