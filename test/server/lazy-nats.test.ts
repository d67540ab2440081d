// Memory at rest (issue 20): what an idle one-process server never runs, it does not load. The NATS side —
// src/server/nats-serving.ts, src/nats/ and the @nats-io client — is imported only when --nats is set; loaded,
// it stays in the heap for the life of the process. Real daemons (spawned CLI), their module loads recorded
// by a preload; the --nats case (NATS unreachable: the daemon still listens) shows the recorder sees a lazy import.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { FakeCtLog } from '../../fake-ct-log/fake-ct-log.js';
import { startDaemon } from '../support/spawned-daemon.js';

const RECORDER = pathToFileURL(join(import.meta.dirname, '../support/import-recorder.mjs'));
const NATS_MODULE = /\/src\/server\/nats-serving\.ts$|\/src\/nats\/|\/@nats-io\//;

describe('certstream-server: the NATS modules are loaded only with --nats', { timeout: 120_000 }, () => {
  let fake: FakeCtLog;
  let dir: string;
  before(async () => {
    fake = await FakeCtLog.start({ rfc6962Logs: 1, staticLogs: 1, initialSize: 16 });
    dir = await mkdtemp(join(tmpdir(), 'certstream-lazy-nats-'));
  });
  after(async () => {
    await fake.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** The modules a daemon started with `args` has loaded once it listens. */
  async function loadedBy(name: string, args: readonly string[]): Promise<string[]> {
    const out = join(dir, `${name}.modules`);
    const recorder = new URL(RECORDER);
    recorder.searchParams.set('out', out);
    const d = await startDaemon(fake.logListUrl, join(dir, name), args, ['--import', recorder.href]);
    try {
      return (await readFile(out, 'utf8')).split('\n').filter(Boolean);
    } finally {
      d.child.kill('SIGTERM');
      await d.exited;
    }
  }

  it('a server without --nats has not loaded them once listening', async () => {
    const loaded = await loadedBy('local', []);
    assert.ok(loaded.some((url) => url.endsWith('/src/server/local-serving.ts')), 'the recorder saw the server modules');
    assert.deepEqual(loaded.filter((url) => NATS_MODULE.test(url)), []);
  });

  it('with --nats they are loaded (NATS unreachable: the daemon listens and retries)', async () => {
    const loaded = await loadedBy('nats', ['--nats', 'nats://127.0.0.1:1']);
    assert.ok(loaded.some((url) => url.endsWith('/src/server/nats-serving.ts')), 'nats-serving.ts loaded');
    assert.ok(loaded.some((url) => url.includes('/@nats-io/')), 'the NATS client loaded');
  });
});
