/**
 * Runs the watch list's user regular expressions off the main thread, with a time limit, so that no
 * rule can stall the stream (catastrophic backtracking: /(a+)+$/ against 'aaaa…a!' takes 2^n steps,
 * and V8's backtracking engine cannot be interrupted from inside).
 *
 * One worker_threads worker evaluates a whole batch of names, rule by rule, writing the rule it is on
 * and when it started it into shared memory. The limit counts from that start, per rule: a watchdog
 * terminates the worker (the only way to stop a running regex) once one rule has run over the batch for
 * longer than the limit, and that rule is blamed, counted and logged; the batch is evaluated again in a
 * fresh worker without it. After `maxTimeouts` overruns a rule is disabled for good (until restart),
 * visible in the metrics and logs. Other rules keep matching throughout.
 *
 * Nothing is retried without a rule to blame (that was a livelock: with a limit shorter than a worker's
 * start, 20–25 ms, every batch timed out before any rule ran, and was retried forever, matching
 * nothing). Starting a worker is not counted against any rule; a worker that does not start at all
 * within `startLimitMs` is an error. And the limit is floored at twice the measured start of a worker,
 * so a limit the machine cannot honour (10 ms) is raised, once, with a note (`onFloor`).
 *
 * The worker's code is a small CommonJS string (`eval: true`) so that it loads the same way from
 * `dist/` and under tsx, with no path to resolve.
 */
import { Worker } from 'node:worker_threads';

/** A regex rule as the guard knows it: `id` is what `match` reports. */
export interface GuardedRegex {
  id: number;
  source: string;
  flags: string;
  /** The rule as written, for logs. */
  text: string;
}

/** Settings of a RegexGuard. */
export interface RegexGuardOptions {
  /** Limit of one rule over one batch in ms, from the rule's start (default 1000). */
  timeoutMs?: number;
  /** How long a worker may take to start before the batch fails (default 30_000). */
  startLimitMs?: number;
  /** Called when the limit was raised to twice the measured worker start (ms). */
  onFloor?: (limitMs: number, workerStartMs: number) => void;
  /** Overruns after which a rule is disabled (default 3). */
  maxTimeouts?: number;
  /** Called on every overrun: the rule blamed, its overrun count, and whether it is now disabled. */
  onTimeout?: (rule: GuardedRegex, count: number, disabled: boolean) => void;
}

const WORKER_CODE = `
const { parentPort, workerData } = require('node:worker_threads');
const progress = new Int32Array(workerData.progress);
const started = new BigInt64Array(workerData.started);
const rules = workerData.rules.map((r) => ({ id: r.id, re: new RegExp(r.source, r.flags) }));
parentPort.on('message', (m) => {
  const skip = new Set(m.skip);
  const hits = [];
  for (let k = 0; k < rules.length; k++) {
    const r = rules[k];
    if (skip.has(r.id)) continue;
    // The start time first: whoever reads this rule's id reads its start time too.
    Atomics.store(started, 0, BigInt(Date.now()));
    Atomics.store(progress, 0, r.id);
    for (let i = 0; i < m.names.length; i++) {
      r.re.lastIndex = 0;
      if (r.re.test(m.names[i])) hits.push(i, r.id);
    }
  }
  Atomics.store(progress, 0, -1);
  parentPort.postMessage({ seq: m.seq, hits });
});
parentPort.postMessage({ ready: true });
`;

/** A (name index, rule id) pair found by the regexes. */
export interface RegexHit {
  name: number;
  rule: number;
}

export class RegexGuard {
  private readonly rules: GuardedRegex[];
  private limitMs: number;
  private readonly startLimitMs: number;
  private readonly maxTimeouts: number;
  private readonly onTimeout: RegexGuardOptions['onTimeout'];
  private readonly onFloor: RegexGuardOptions['onFloor'];
  private readonly progress = new SharedArrayBuffer(4);
  private readonly started = new SharedArrayBuffer(8);
  private worker: { w: Worker; ready: Promise<void> } | undefined;
  private seq = 0;
  private chain: Promise<unknown> = Promise.resolve();
  /** Overruns per rule id. */
  readonly timeouts = new Map<number, number>();
  /** Rule ids disabled after too many overruns. */
  readonly disabled = new Set<number>();

  constructor(rules: readonly GuardedRegex[], options: RegexGuardOptions = {}) {
    // Global and sticky flags make `test` stateful; the parser never lets them through.
    this.rules = rules.map((r) => ({ ...r, flags: r.flags.replace(/[gy]/g, '') }));
    this.limitMs = options.timeoutMs ?? 1000;
    this.startLimitMs = options.startLimitMs ?? 30_000;
    this.maxTimeouts = options.maxTimeouts ?? 3;
    this.onTimeout = options.onTimeout;
    this.onFloor = options.onFloor;
  }

  /** The limit in force, ms (the configured one, or the floor above a worker's start). */
  get timeoutMs(): number {
    return this.limitMs;
  }

  /** Number of regex rules guarded. */
  get size(): number {
    return this.rules.length;
  }

  /** Evaluates every enabled rule against every name; calls are served one at a time, in order. */
  match(names: readonly string[]): Promise<RegexHit[]> {
    const run = this.chain.then(() => this.runBatch(names));
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** The worker, started if needed; `ready` resolves once it has compiled the rules (or rejects). */
  private ensureWorker(): { w: Worker; ready: Promise<void> } {
    if (this.worker) return this.worker;
    const t0 = performance.now();
    const w = new Worker(WORKER_CODE, {
      eval: true,
      workerData: { progress: this.progress, started: this.started, rules: this.rules.map(({ id, source, flags }) => ({ id, source, flags })) },
    });
    // The worker must never keep the process alive on its own (a clean stop just closes the guard).
    w.unref();
    const ready = new Promise<void>((resolve, reject) => {
      const onReady = (m: { ready?: boolean }) => {
        if (!m.ready) return;
        w.off('message', onReady);
        w.off('error', reject);
        const startMs = performance.now() - t0;
        const floor = Math.ceil(2 * startMs);
        if (this.limitMs < floor) {
          this.limitMs = floor;
          this.onFloor?.(floor, Math.round(startMs));
        }
        resolve();
      };
      w.on('message', onReady);
      w.once('error', reject);
    });
    ready.catch(() => undefined);
    this.worker = { w, ready };
    return this.worker;
  }

  private async runBatch(names: readonly string[]): Promise<RegexHit[]> {
    if (this.rules.length === 0 || names.length === 0) return [];
    const skip = new Set(this.disabled);
    // Each overrun blames and removes one rule from this batch, so this loop ends after at most
    // rules.length rounds; an attempt that cannot blame a rule throws instead of going round again.
    for (;;) {
      if (skip.size >= this.rules.length) return [];
      const outcome = await this.once(names, [...skip]);
      if (!('blamed' in outcome)) return outcome.hits;
      const rule = this.rules.find((r) => r.id === outcome.blamed)!;
      const count = (this.timeouts.get(rule.id) ?? 0) + 1;
      this.timeouts.set(rule.id, count);
      const disable = count >= this.maxTimeouts;
      if (disable) this.disabled.add(rule.id);
      skip.add(rule.id);
      this.onTimeout?.(rule, count, disable);
    }
  }

  /** One attempt at a batch: the hits, or the rule that overran (after the worker was terminated). */
  private async once(names: readonly string[], skip: number[]): Promise<{ hits: RegexHit[] } | { blamed: number }> {
    const { w: worker, ready } = this.ensureWorker();
    let startTimer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        ready,
        new Promise<never>((_, reject) => {
          startTimer = setTimeout(() => reject(new Error(`the regex worker did not start within ${this.startLimitMs} ms`)), this.startLimitMs);
        }),
      ]);
    } catch (err) {
      this.worker = undefined;
      void worker.terminate();
      throw err;
    } finally {
      clearTimeout(startTimer);
    }
    const seq = ++this.seq;
    const progress = new Int32Array(this.progress);
    const started = new BigInt64Array(this.started);
    Atomics.store(progress, 0, -1);
    return new Promise((resolve, reject) => {
      const cleanup = () => {
        clearInterval(watchdog);
        worker.off('message', onMessage);
        worker.off('error', onError);
      };
      const onMessage = (m: { seq?: number; hits?: number[] }) => {
        if (m.seq !== seq || !m.hits) return;
        cleanup();
        const hits: RegexHit[] = [];
        for (let i = 0; i < m.hits.length; i += 2) hits.push({ name: m.hits[i], rule: m.hits[i + 1] });
        resolve({ hits });
      };
      const onError = (err: Error) => {
        cleanup();
        this.worker = undefined;
        reject(err);
      };
      // The rule in progress and since when (its id is read first: the worker writes the time first).
      const limit = this.limitMs;
      const watchdog = setInterval(() => {
        const id = Atomics.load(progress, 0);
        if (id < 0) return;
        if (Date.now() - Number(Atomics.load(started, 0)) <= limit) return;
        cleanup();
        this.worker = undefined;
        void worker.terminate().then(() => resolve({ blamed: id }), () => resolve({ blamed: id }));
      }, Math.max(2, Math.min(50, Math.floor(limit / 4))));
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.postMessage({ seq, names, skip });
    });
  }

  /** Stops the worker. */
  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.w.terminate();
  }
}
