// --memory-release-interval (src/server/memory-release.ts, native/memory-release.cc): glibc keeps freed
// heap pages below a live allocation resident until malloc_trim releases them, and V8 keeps its heap
// committed until a memory-reducing collection. The addon is the one `npm ci` built
// (scripts/build-native.mjs); these tests need it, as the daemon does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { createLogger } from '../../src/log/logger.js';
import { createServerMetrics } from '../../src/metrics/server-metrics.js';
import { AT_REST_UTILIZATION, DUTY_FACTOR, loadMemoryRelease, nextTrimDelay, startMemoryRelease } from '../../src/server/memory-release.js';
import { waitUntil } from '../support/wait-until.js';

const ADDON = join(import.meta.dirname, '../../build/Release/memory_release.node');

/** Runs `script` in a fresh node with the addon as `addon`; returns what it printed, parsed. */
function child<T>(script: string, nodeArgs: string[] = []): T {
  const source = `const addon = require(${JSON.stringify(ADDON)});\n${script}`;
  const r = spawnSync(process.execPath, ['--expose-gc', ...nodeArgs, '-e', source], { encoding: 'utf8', env: { ...process.env, MALLOC_ARENA_MAX: '1' } });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as T;
}

test('npm ci built the addon, and it loads', () => {
  const loaded = loadMemoryRelease();
  assert.ok('addon' in loaded, `build/Release/memory_release.node: ${'missing' in loaded ? loaded.missing : ''}`);
  assert.equal(loaded.addon.cHeapTrimSupported, true, 'this machine runs glibc');
});

test('a C heap trim returns to the OS the freed pages glibc kept below live allocations', () => {
  // 96 MB in 32 kB buffers (below glibc's mmap threshold: they come from the heap), every 16th kept,
  // the rest freed by a full collection (one GC thread: freed within gc(), not by a later sweep). glibc
  // cannot shrink its heap past the kept ones, so ~90 MB stay resident until the trim.
  const r = child<{ before: number; after: number; released: boolean }>(`
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
    const released = addon.trimCHeap();
    process.stdout.write(JSON.stringify({ before, after: rssMb(), released, kept: kept.length }));
  `, ['--single-threaded-gc']);
  assert.equal(r.released, true, 'malloc_trim released something');
  assert.ok(r.before - r.after > 50, `RSS ${r.before.toFixed(1)} MB before the trim, ${r.after.toFixed(1)} MB after: expected over 50 MB less`);
});

test('a V8 heap reduction gives back the committed heap that a full collection keeps', () => {
  // 2,000 objects of 8 kB promoted to the old generation, then 95 % of them dropped: every page keeps a
  // few live objects, so a plain full collection frees the objects but keeps the pages committed (the
  // control, measured first). The reduction's collection compacts them; its figure is read when it has
  // finished. V8's own memory reducer is off in this child, so that the reduction asked for is the one seen.
  const r = child<{ committedAfterGc: number; usedAfterGc: number; afterReduction: number }>(`
    const v8 = require('v8');
    const { PerformanceObserver, constants } = require('perf_hooks');
    const mb = (key) => v8.getHeapStatistics()[key] / 1048576;
    function make() {
      const objects = [];
      for (let i = 0; i < 2000; i++) objects.push({ a: new Array(1000).fill(i), s: 'x' + i });
      return objects;
    }
    let kept = make();
    gc(); gc();
    kept = kept.filter((_, i) => i % 20 === 0);
    gc({ type: 'major', execution: 'sync' });
    const committedAfterGc = mb('total_heap_size');
    const usedAfterGc = mb('used_heap_size');
    const observer = new PerformanceObserver((list) => {
      if (!list.getEntries().some((e) => e.detail.kind === constants.NODE_PERFORMANCE_GC_MAJOR)) return;
      observer.disconnect();
      process.stdout.write(JSON.stringify({ committedAfterGc, usedAfterGc, afterReduction: mb('total_heap_size'), kept: kept.length }));
      process.exit(0);
    });
    observer.observe({ entryTypes: ['gc'] });
    addon.reduceV8Heap();
    setTimeout(() => process.exit(3), 30000);
  `, ['--no-memory-reducer']);
  const mb = (x: number) => `${x.toFixed(1)} MB`;
  assert.ok(r.committedAfterGc - r.usedAfterGc > 15, `after a full collection: ${mb(r.usedAfterGc)} used of ${mb(r.committedAfterGc)} committed: the case proves nothing`);
  assert.ok(r.committedAfterGc - r.afterReduction > 15, `committed V8 heap ${mb(r.committedAfterGc)} before, ${mb(r.afterReduction)} after the reduction: expected over 15 MB less`);
});

test('the next trim waits the interval, or 200 times the last trim when that is longer', () => {
  assert.equal(nextTrimDelay(2000, 1), 2000);
  assert.equal(nextTrimDelay(2000, 10), 2000);
  assert.equal(nextTrimDelay(2000, 45), 45 * DUTY_FACTOR);
  assert.equal(DUTY_FACTOR, 200);
});

/** The count of certstream_memory_releases_total{kind}. */
async function releases(metrics: ReturnType<typeof createServerMetrics>, kind: string): Promise<number> {
  return (await metrics.memoryReleases.get()).values.find((v) => v.labels.kind === kind)?.value ?? -1;
}

test('at rest the C heap is trimmed every interval and the V8 heap every 5th; both counted with their time', { timeout: 20_000 }, async (t) => {
  const metrics = createServerMetrics({ processMetrics: false });
  assert.equal(await releases(metrics, 'c_heap'), 0, 'series at 0 from start-up');
  assert.equal(await releases(metrics, 'v8_heap'), 0, 'series at 0 from start-up');
  const lines: string[] = [];
  const stop = startMemoryRelease({ intervalMs: 20, metrics, logger: createLogger({ write: (l) => lines.push(l) }) });
  t.after(stop);
  // The trims' own duty cap (200 × a trim of this test process's larger heap) spaces them out here.
  await waitUntil('two V8 heap reductions and two C heap trims', 15_000, async () => (await releases(metrics, 'v8_heap')) >= 2 && (await releases(metrics, 'c_heap')) >= 2);
  const seconds = (await metrics.memoryReleaseSeconds.get()).values.find((v) => v.labels.kind === 'c_heap')?.value ?? 0;
  assert.ok(seconds > 0, 'time spent counted');
  assert.deepEqual(lines, [], 'nothing logged when the addon works');
});

test('under load the V8 heap is not reduced; the C heap still is', { timeout: 20_000 }, async (t) => {
  const metrics = createServerMetrics({ processMetrics: false });
  const busy = { idle: 0, active: 0, utilization: AT_REST_UTILIZATION };
  // Synchronised on the V8 timer itself: the utilisation is read once at the start and twice per V8
  // interval (since the last one, then the new mark); each reads 5 % busy, which is not at rest.
  let reads = 0;
  const counting = () => (reads++, busy);
  t.after(startMemoryRelease({ intervalMs: 20, metrics, logger: createLogger({ write: () => undefined }), utilization: counting }));
  await waitUntil('three V8 intervals', 15_000, () => reads >= 1 + 2 * 3);
  assert.equal(await releases(metrics, 'v8_heap'), 0);
  assert.ok((await releases(metrics, 'c_heap')) >= 1, 'the C heap is trimmed under load too');
});

test('without the addon the daemon runs and says once why it releases nothing', async () => {
  const metrics = createServerMetrics({ processMetrics: false });
  const lines: string[] = [];
  const stop = startMemoryRelease({ intervalMs: 20, metrics, logger: createLogger({ write: (l) => lines.push(l) }), load: () => loadMemoryRelease('/nonexistent/memory_release.node') });
  stop();
  assert.equal(lines.length, 1);
  const line = JSON.parse(lines[0]) as { level: string; msg: string; error: string };
  assert.equal(line.level, 'warn');
  assert.match(line.msg, /memory_release addon not built/);
  assert.match(line.error, /nonexistent/);
});

test('--memory-release-interval 0 loads nothing and releases nothing', () => {
  const metrics = createServerMetrics({ processMetrics: false });
  let loads = 0;
  const stop = startMemoryRelease({ intervalMs: 0, metrics, logger: createLogger({ write: () => undefined }), load: () => (loads++, loadMemoryRelease()) });
  stop();
  assert.equal(loads, 0);
});
