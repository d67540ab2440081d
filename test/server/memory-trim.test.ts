// --malloc-trim-interval (src/server/memory-trim.ts, native/malloc-trim.c): glibc keeps freed heap pages
// that lie below a live allocation resident until malloc_trim releases them. The addon is the one
// `npm ci` built (scripts/build-native.mjs); these tests need it, as the daemon does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { createLogger } from '../../src/log/logger.js';
import { createServerMetrics } from '../../src/metrics/server-metrics.js';
import { DUTY_FACTOR, loadMallocTrim, nextTrimDelay, startMemoryTrim } from '../../src/server/memory-trim.js';
import { waitUntil } from '../support/wait-until.js';

const ADDON = join(import.meta.dirname, '../../build/Release/malloc_trim.node');

test('npm ci built the addon, and it loads', () => {
  const loaded = loadMallocTrim();
  assert.ok('addon' in loaded, `build/Release/malloc_trim.node: ${'missing' in loaded ? loaded.missing : ''}`);
  assert.equal(loaded.addon.supported, true, 'this machine runs glibc');
});

test('a trim returns to the OS the freed pages glibc kept below live allocations', () => {
  // 96 MB in 32 kB buffers (below glibc's mmap threshold: they come from the heap), every 16th kept,
  // the rest freed by a full collection. glibc cannot shrink its heap past the kept ones, so ~90 MB
  // stay resident until the trim.
  const script = `
    const addon = require(${JSON.stringify(ADDON)});
    const rssMb = () => process.memoryUsage.rss() / 1048576;
    // In a function: what -e's top level allocates may stay reachable from its completion value.
    function make() {
      const buffers = [];
      for (let i = 0; i < 3072; i++) buffers.push(Buffer.allocUnsafeSlow(32 * 1024).fill(i & 0xff));
      return buffers.filter((_, i) => i % 16 === 0);
    }
    const kept = make();
    gc(); gc();
    const before = rssMb();
    const released = addon.trim();
    const after = rssMb();
    process.stdout.write(JSON.stringify({ before, after, released, kept: kept.length }));
  `;
  // One GC thread: the freed buffers' memory is released within gc(), not later by a background sweep.
  const child = spawnSync(process.execPath, ['--expose-gc', '--single-threaded-gc', '-e', script], { encoding: 'utf8', env: { ...process.env, MALLOC_ARENA_MAX: '1' } });
  assert.equal(child.status, 0, child.stderr);
  const { before, after, released } = JSON.parse(child.stdout) as { before: number; after: number; released: boolean };
  assert.equal(released, true, 'malloc_trim released something');
  assert.ok(before - after > 50, `RSS ${before.toFixed(1)} MB before the trim, ${after.toFixed(1)} MB after: expected over 50 MB less`);
});

test('the next trim waits the interval, or 200 times the last trim when that is longer', () => {
  assert.equal(nextTrimDelay(2000, 1), 2000);
  assert.equal(nextTrimDelay(2000, 10), 2000);
  assert.equal(nextTrimDelay(2000, 45), 45 * DUTY_FACTOR);
  assert.equal(DUTY_FACTOR, 200);
});

test('the daemon trims every interval and counts the trims and their time', { timeout: 20_000 }, async (t) => {
  const metrics = createServerMetrics({ processMetrics: false });
  const lines: string[] = [];
  const stop = startMemoryTrim({ intervalMs: 20, metrics, logger: createLogger({ write: (l) => lines.push(l) }) });
  t.after(stop);
  const trims = async () => (await metrics.memoryTrims.get()).values[0]?.value ?? 0;
  await waitUntil('three trims', 15_000, async () => (await trims()) >= 3);
  const seconds = (await metrics.memoryTrimSeconds.get()).values[0]?.value ?? 0;
  assert.ok(seconds > 0, 'time spent counted');
  assert.deepEqual(lines, [], 'nothing logged when the addon works');
});

test('without the addon the daemon runs and says once why it does not trim', async () => {
  const metrics = createServerMetrics({ processMetrics: false });
  const lines: string[] = [];
  const stop = startMemoryTrim({ intervalMs: 20, metrics, logger: createLogger({ write: (l) => lines.push(l) }), load: () => loadMallocTrim('/nonexistent/malloc_trim.node') });
  stop();
  assert.equal(lines.length, 1);
  const line = JSON.parse(lines[0]) as { level: string; msg: string; error: string };
  assert.equal(line.level, 'warn');
  assert.match(line.msg, /malloc_trim addon not built/);
  assert.match(line.error, /nonexistent/);
});

test('--malloc-trim-interval 0 loads nothing and trims nothing', () => {
  const metrics = createServerMetrics({ processMetrics: false });
  let loads = 0;
  const stop = startMemoryTrim({ intervalMs: 0, metrics, logger: createLogger({ write: () => undefined }), load: () => (loads++, loadMallocTrim()) });
  stop();
  assert.equal(loads, 0);
});
