/**
 * Gives the C heap's free pages back to the OS every --malloc-trim-interval (glibc's malloc_trim, through
 * the small addon native/malloc-trim.c). glibc releases freed memory by itself only from the top of its
 * heap; what is freed below a live allocation stays resident. At rest that is most of the daemon's
 * malloc'd memory: the optimising compiler takes and frees megabytes of zone memory as functions get
 * hot, and each poll's response bodies are freed between longer-lived buffers. Trimming keeps the idle
 * daemon about 7 MB smaller (README, "Memory at rest").
 *
 * A trim walks the whole heap holding its lock, so its cost grows with the heap: about 1 ms at rest,
 * tens of ms on a large fragmented one. The next trim therefore waits at least DUTY_FACTOR times as long
 * as the last one took, so trimming never takes more than 0.5 % of the time, whatever the load.
 */
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../log/logger.js';
import type { ServerMetrics } from '../metrics/server-metrics.js';

/** The addon's interface (native/malloc-trim.c). */
export interface MallocTrimAddon {
  /** malloc_trim(0): true when memory was released. */
  trim(): boolean;
  /** False where the C library is not glibc: `trim` does nothing there. */
  readonly supported: boolean;
}

/** Built by `npm ci` (scripts/build-native.mjs); the same path from src/server and dist/server. */
const ADDON_PATH = '../../build/Release/malloc_trim.node';

/** The next trim waits at least this many times the last one's duration: trimming takes ≤ 1/200 of the time. */
export const DUTY_FACTOR = 200;

export type LoadedAddon = { addon: MallocTrimAddon } | { missing: string };

/** The addon, or why it could not be loaded (not built: no compiler when `npm ci` ran). */
export function loadMallocTrim(path = ADDON_PATH): LoadedAddon {
  try {
    return { addon: createRequire(import.meta.url)(path) as MallocTrimAddon };
  } catch (err) {
    return { missing: (err as Error).message.split('\n')[0] };
  }
}

/** Milliseconds until the next trim, after one that took `lastMs`. */
export function nextTrimDelay(intervalMs: number, lastMs: number): number {
  return Math.max(intervalMs, lastMs * DUTY_FACTOR);
}

export interface MemoryTrimOptions {
  /** --malloc-trim-interval in ms; 0: off. */
  intervalMs: number;
  metrics: Pick<ServerMetrics, 'memoryTrims' | 'memoryTrimSeconds'>;
  logger: Logger;
  /** How the addon is loaded (default loadMallocTrim; tests give another path). */
  load?: () => LoadedAddon;
}

/** Starts trimming; returns the closer (stops the timer). Logs once why it does not trim, if it does not. */
export function startMemoryTrim(options: MemoryTrimOptions): () => void {
  const { intervalMs, metrics, logger } = options;
  if (intervalMs === 0) return () => undefined;
  const loaded = (options.load ?? loadMallocTrim)();
  if ('missing' in loaded) {
    logger.warn('malloc_trim addon not built: freed C heap memory stays resident (memory at rest a few MB higher); `npm run build:native` builds it', { error: loaded.missing });
    return () => undefined;
  }
  const { addon } = loaded;
  if (!addon.supported) {
    logger.info('not glibc: --malloc-trim-interval has nothing to trim');
    return () => undefined;
  }
  let timer: NodeJS.Timeout;
  const tick = (): void => {
    const started = performance.now();
    addon.trim();
    const tookMs = performance.now() - started;
    metrics.memoryTrims.inc();
    metrics.memoryTrimSeconds.inc(tookMs / 1000);
    timer = setTimeout(tick, nextTrimDelay(intervalMs, tookMs)).unref();
  };
  timer = setTimeout(tick, intervalMs).unref();
  return () => clearTimeout(timer);
}
