/**
 * Child process of test/ct/get-entries-body.test.ts, run under a small heap (--max-old-space-size):
 * follows the RFC 6962 log at argv[2] until its first failed round, then prints the failure as one JSON
 * line and exits 0. Without a bounded parse of get-entries, a hostile body kills it with an OOM abort.
 */
import { Rfc6962Follower } from '../../src/ct/rfc6962-follower.js';
import type { LogDescriptor } from '../../src/ct/types.js';
import { createLogger } from '../../src/log/logger.js';
import { followerHarness } from './follower-deps.js';

const url = process.argv[2];
const log: LogDescriptor = { kind: 'rfc6962', url, name: 'hostile', operator: 'x', logId: 'x', monitoringUrl: url, state: 'usable' };
let failed!: (record: Record<string, unknown>) => void;
const firstFailure = new Promise<Record<string, unknown>>((resolve) => (failed = resolve));
const logger = createLogger({
  write: (line) => {
    const record = JSON.parse(line) as Record<string, unknown>;
    if (record.msg === 'log request failed, backing off') failed(record);
  },
});
const h = await followerHarness(log, { backfill: 1024, logger, pollIntervalMs: 60_000, backoff: { baseMs: 60_000, maxMs: 60_000 } }, 20_000);
const f = new Rfc6962Follower(h.deps, { windows: 1, requestSize: 1024 });
f.start();
const record = await firstFailure;
await f.stop();
await h.close();
const errors = await h.deps.metrics.logErrors.get();
process.stdout.write(JSON.stringify({ code: record.code, error: record.error, errors: errors.values.map((v) => v.labels.kind) }) + '\n');
