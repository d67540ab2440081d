import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FakeCtLog } from '../../fake-ct-log/fake-ct-log.js';
import { Ingest, type IngestOptions } from '../../src/ct/ingest.js';
import { parseCursorFile } from '../../src/ct/cursor-store.js';
import { isCertstreamError } from '../../src/errors.js';
import { silentLogger } from '../../src/log/logger.js';
import { createServerMetrics } from '../../src/metrics/server-metrics.js';
import { EntryCollector, range } from '../support/entry-collector.js';

describe('Ingest', () => {
  let fake: FakeCtLog;
  let dir: string;
  before(async () => {
    fake = await FakeCtLog.start({ rfc6962Logs: 2, staticLogs: 2, initialSize: 300 });
    dir = await mkdtemp(join(tmpdir(), 'certstream-ingest-'));
  });
  after(async () => {
    await fake.close();
    await rm(dir, { recursive: true, force: true });
  });

  function options(collector: EntryCollector, extra: Partial<IngestOptions> = {}): IngestOptions {
    return {
      logList: fake.logListUrl,
      stateDir: join(dir, 'state'),
      backfill: 1000,
      pollIntervalMs: 10,
      userAgent: 'certstream-server-test',
      refreshIntervalMs: 0,
      partialTileDelayMs: 0,
      backoff: { baseMs: 5, maxMs: 20 },
      metrics: createServerMetrics({ processMetrics: false }),
      logger: silentLogger,
      sink: collector.sink,
      ...extra,
    };
  }

  it('follows every log of the list; a restart resumes from the cursor file without loss or repeats', async () => {
    const first = new EntryCollector();
    const a = await Ingest.open(options(first));
    assert.equal(a.followed.length, 4);
    a.start();
    await Promise.all(fake.logs.map((l) => first.until(l.url, 300)));
    await a.stop();
    const file = parseCursorFile(await readFile(join(dir, 'state', 'cursors.json'), 'utf8'));
    for (const l of fake.logs) assert.equal(file.get(l.url), 300, `cursor of ${l.url}`);
    assert.deepEqual(a.statuses(), [], 'stopped ingest has no followers');

    fake.append(40);
    const second = new EntryCollector();
    const b = await Ingest.open(options(second));
    b.start();
    await Promise.all(fake.logs.map((l) => second.until(l.url, 340)));
    for (const l of fake.logs) {
      assert.deepEqual(first.indices(l.url), range(0, 300));
      assert.deepEqual(second.indices(l.url), range(300, 340), `resume of ${l.url}`);
    }
    const statuses = b.statuses();
    assert.deepEqual(statuses.map((s) => [s.kind, s.next_index, s.lag]), [
      ['rfc6962', 340, 0], ['rfc6962', 340, 0], ['static', 340, 0], ['static', 340, 0],
    ]);
    await b.stop();
  });

  it('resetState ignores the saved cursors, deliberately, and overwrites them', async () => {
    const stateDir = join(dir, 'state-reset');
    const first = new EntryCollector();
    const a = await Ingest.open(options(first, { stateDir }));
    a.start();
    await Promise.all(fake.logs.map((l) => first.until(l.url, fake.size(l.url))));
    await a.stop();
    const again = new EntryCollector();
    const b = await Ingest.open(options(again, { stateDir, backfill: 5, resetState: true }));
    b.start();
    await Promise.all(fake.logs.map((l) => again.until(l.url, fake.size(l.url))));
    await b.stop();
    for (const l of fake.logs) assert.deepEqual(again.indices(l.url), range(fake.size(l.url) - 5, fake.size(l.url)));
  });

  it('refresh starts new logs and stops logs that left the list; a failed refresh keeps the list', async () => {
    const collector = new EntryCollector();
    const keep = fake.logs[0].url;
    fake.logListOverride = (list) => {
      const ops = list.operators as { logs: { url: string }[]; tiled_logs: unknown[] }[];
      ops[0].logs = ops[0].logs.filter((l) => l.url === keep);
      ops[0].tiled_logs = [];
      return list;
    };
    const metrics = createServerMetrics({ processMetrics: false });
    const ing = await Ingest.open(options(collector, { metrics, stateDir: join(dir, 'state-refresh') }));
    try {
      ing.start();
      assert.deepEqual(ing.statuses().map((s) => s.url), [keep]);
      fake.logListOverride = undefined;
      assert.equal(await ing.refresh(), true);
      assert.deepEqual(ing.statuses().map((s) => s.url), fake.logs.map((l) => l.url));
      await Promise.all(fake.logs.map((l) => collector.until(l.url, fake.size(l.url))));

      fake.logListOverride = (list) => {
        (list.operators as { logs: unknown[] }[])[0].logs = [];
        return list;
      };
      assert.equal(await ing.refresh(), true);
      assert.deepEqual(ing.statuses().map((s) => s.kind), ['static', 'static']);

      fake.logListOverride = () => ({ not: 'a log list' });
      assert.equal(await ing.refresh(), false);
      assert.equal(ing.statuses().length, 2, 'failed refresh keeps the current logs');
      const refreshes = Object.fromEntries((await metrics.logListRefreshes.get()).values.map((v) => [v.labels.result, v.value]));
      assert.deepEqual(refreshes, { ok: 2, error: 1 });
      assert.equal((await metrics.logsFollowed.get()).values[0].value, 2);
    } finally {
      fake.logListOverride = undefined;
      await ing.stop();
    }
  });

  it('include/exclude patterns select logs by URL or description', async () => {
    const collector = new EntryCollector();
    const ing = await Ingest.open(
      options(collector, { logsInclude: [/static-ct-api/], logsExclude: [/static\/1\/$/], stateDir: join(dir, 's3') }),
    );
    assert.deepEqual(ing.followed.map((l) => l.url), [fake.logs[2].url]);
    await ing.stop();
  });

  it('an unreadable or invalid log list is CONFIG_ERR_LOG_LIST', async () => {
    const c = new EntryCollector();
    await assert.rejects(Ingest.open(options(c, { logList: join(dir, 'missing.json') })), (err) =>
      isCertstreamError(err, 'CONFIG_ERR_LOG_LIST') && /cannot read log list .*missing\.json/.test(err.message));
    const bad = join(dir, 'bad.json');
    await writeFile(bad, '{"operators": 3');
    await assert.rejects(Ingest.open(options(c, { logList: bad })), (err) => isCertstreamError(err, 'CONFIG_ERR_LOG_LIST'));
    await assert.rejects(Ingest.open(options(c, { logList: `${fake.baseUrl}nope.json` })), (err) =>
      isCertstreamError(err, 'CONFIG_ERR_LOG_LIST') && /HTTP 404/.test(err.message));
  });
});
