/**
 * Gives memory the daemon no longer uses back to the OS, every --memory-release-interval, through the
 * small addon native/memory-release.cc. Neither heap does it by itself at rest, and at rest the daemon
 * is about 15 MB larger without it (README, "Memory at rest"):
 *
 * - **The C heap** (glibc): freed memory goes back to the OS only from the top of the heap; what is freed
 *   below a live allocation stays resident. At rest that is most of it: the optimising compiler takes
 *   and frees megabytes of zone memory as functions get hot, and each poll's response bodies are freed
 *   between longer-lived buffers. Trimmed every interval. A trim walks the heap holding its lock, so it
 *   costs more as the heap grows (about 1 ms at rest, 7 ms under the firehose): the next one waits at
 *   least DUTY_FACTOR times as long as the last took, so trimming never takes over 0.5 % of the time.
 * - **The V8 heap**: V8's own memory reducer runs once after start-up and then only when the committed
 *   heap has grown by 10 MB more; meanwhile old garbage and a grown young generation stay committed.
 *   Every V8_EVERY intervals, if the event loop was busy less than AT_REST_UTILIZATION of the time
 *   since, V8 is asked for a memory-reducing collection (incremental: a few ms of work spread over
 *   tasks). Under load it is not asked: that collection shrinks the young generation the load needs.
 */
import { createRequire } from 'node:module';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import type { Logger } from '../log/logger.js';
import type { MEMORY_RELEASE_KINDS, ServerMetrics } from '../metrics/server-metrics.js';

/** The addon's interface (native/memory-release.cc). */
export interface MemoryReleaseAddon {
  /** glibc's malloc_trim(0): true when memory was released. */
  trimCHeap(): boolean;
  /** Starts a memory-reducing V8 collection (moderate memory pressure, then none again). */
  reduceV8Heap(): void;
  /** False where the C library is not glibc: `trimCHeap` does nothing there. */
  readonly cHeapTrimSupported: boolean;
}

export type LoadedAddon = { addon: MemoryReleaseAddon } | { missing: string };

/** Built by `npm ci` (scripts/build-native.mjs); the same path from src/server and dist/server. */
const ADDON_PATH = '../../build/Release/memory_release.node';

/** The next C heap trim waits at least this many times the last one's duration: ≤ 1/200 of the time. */
export const DUTY_FACTOR = 200;
/** The V8 heap is reduced every this many intervals (10 s by default)… */
export const V8_EVERY = 5;
/** …when the event loop was busy less than this share of the time since the last one. */
export const AT_REST_UTILIZATION = 0.05;

/** The addon, or why it could not be loaded (not built: no compiler when `npm ci` ran). */
export function loadMemoryRelease(path = ADDON_PATH): LoadedAddon {
  try {
    return { addon: createRequire(import.meta.url)(path) as MemoryReleaseAddon };
  } catch (err) {
    return { missing: (err as Error).message.split('\n')[0] };
  }
}

/** Milliseconds until the next C heap trim, after one that took `lastMs`. */
export function nextTrimDelay(intervalMs: number, lastMs: number): number {
  return Math.max(intervalMs, lastMs * DUTY_FACTOR);
}

export interface MemoryReleaseOptions {
  /** --memory-release-interval in ms; 0: off. */
  intervalMs: number;
  metrics: Pick<ServerMetrics, 'memoryReleases' | 'memoryReleaseSeconds'>;
  logger: Logger;
  /** How the addon is loaded (default loadMemoryRelease; tests give another path). */
  load?: () => LoadedAddon;
  /** The event loop's utilisation since `previous` (default performance.eventLoopUtilization; tests). */
  utilization?: (previous?: EventLoopUtilization) => EventLoopUtilization;
}

/** Starts releasing; returns the closer (stops the timers). Logs once why it does not, if it does not. */
export function startMemoryRelease(options: MemoryReleaseOptions): () => void {
  const { intervalMs, metrics, logger } = options;
  if (intervalMs === 0) return () => undefined;
  const loaded = (options.load ?? loadMemoryRelease)();
  if ('missing' in loaded) {
    logger.warn('memory_release addon not built: unused memory stays resident (memory at rest about 15 MB higher); `npm run build:native` builds it', { error: loaded.missing });
    return () => undefined;
  }
  const { addon } = loaded;
  const utilization = options.utilization ?? ((previous) => performance.eventLoopUtilization(previous));
  const timed = (kind: (typeof MEMORY_RELEASE_KINDS)[number], release: () => unknown): number => {
    const started = performance.now();
    release();
    const tookMs = performance.now() - started;
    metrics.memoryReleases.inc({ kind });
    metrics.memoryReleaseSeconds.inc({ kind }, tookMs / 1000);
    return tookMs;
  };

  let trimTimer: NodeJS.Timeout | undefined;
  if (addon.cHeapTrimSupported) {
    const trim = (): void => {
      const tookMs = timed('c_heap', () => addon.trimCHeap());
      trimTimer = setTimeout(trim, nextTrimDelay(intervalMs, tookMs)).unref();
    };
    trimTimer = setTimeout(trim, intervalMs).unref();
  } else {
    logger.info('not glibc: the C heap is not trimmed, only the V8 heap is reduced at rest');
  }
  let since = utilization();
  const v8Timer = setInterval(() => {
    const busy = utilization(since).utilization;
    since = utilization();
    if (busy < AT_REST_UTILIZATION) timed('v8_heap', () => addon.reduceV8Heap());
  }, intervalMs * V8_EVERY).unref();
  return () => {
    clearTimeout(trimTimer);
    clearInterval(v8Timer);
  };
}
