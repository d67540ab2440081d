/**
 * Runs the watch list's user regular expressions off the main thread, with a time limit, so that no
 * rule can stall the stream (catastrophic backtracking: /(a+)+$/ against 'aaaa…a!' takes 2^n steps,
 * and V8's backtracking engine cannot be interrupted from inside).
 *
 * One worker_threads worker evaluates a whole batch of names, rule by rule, writing the rule it is on
 * into shared memory. When a batch overruns its budget the worker is terminated (the only way to stop a
 * running regex), the rule it was on is blamed, counted and logged, and the batch is evaluated again
 * in a fresh worker without that rule; after `maxTimeouts` overruns a rule is disabled for good (until
 * restart), visible in the metrics and /healthz-like logs. Other rules keep matching throughout.
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
  /** Budget of one batch in ms (default 1000). */
  timeoutMs?: number;
  /** Overruns after which a rule is disabled (default 3). */
  maxTimeouts?: number;
  /** Called on every overrun: the rule blamed, its overrun count, and whether it is now disabled. */
  onTimeout?: (rule: GuardedRegex, count: number, disabled: boolean) => void;
}

const WORKER_CODE = `
const { parentPort, workerData } = require('node:worker_threads');
const progress = new Int32Array(workerData.progress);
const rules = workerData.rules.map((r) => ({ id: r.id, re: new RegExp(r.source, r.flags) }));
parentPort.on('message', (m) => {
  const skip = new Set(m.skip);
  const hits = [];
  for (let k = 0; k < rules.length; k++) {
    const r = rules[k];
    if (skip.has(r.id)) continue;
    Atomics.store(progress, 0, r.id);
    for (let i = 0; i < m.names.length; i++) {
      r.re.lastIndex = 0;
      if (r.re.test(m.names[i])) hits.push(i, r.id);
    }
  }
  Atomics.store(progress, 0, -1);
  parentPort.postMessage({ seq: m.seq, hits });
});
`;

/** A (name index, rule id) pair found by the regexes. */
export interface RegexHit {
  name: number;
  rule: number;
}

export class RegexGuard {
  private readonly rules: GuardedRegex[];
  private readonly timeoutMs: number;
  private readonly maxTimeouts: number;
  private readonly onTimeout: RegexGuardOptions['onTimeout'];
  private readonly progress = new SharedArrayBuffer(4);
  private worker: Worker | undefined;
  private seq = 0;
  private chain: Promise<unknown> = Promise.resolve();
  /** Overruns per rule id. */
  readonly timeouts = new Map<number, number>();
  /** Rule ids disabled after too many overruns. */
  readonly disabled = new Set<number>();

  constructor(rules: readonly GuardedRegex[], options: RegexGuardOptions = {}) {
    // Global and sticky flags make `test` stateful; the parser never lets them through.
    this.rules = rules.map((r) => ({ ...r, flags: r.flags.replace(/[gy]/g, '') }));
    this.timeoutMs = options.timeoutMs ?? 1000;
    this.maxTimeouts = options.maxTimeouts ?? 3;
    this.onTimeout = options.onTimeout;
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

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(WORKER_CODE, {
      eval: true,
      workerData: { progress: this.progress, rules: this.rules.map(({ id, source, flags }) => ({ id, source, flags })) },
    });
    // The worker must never keep the process alive on its own (a clean stop just closes the guard).
    w.unref();
    this.worker = w;
    return w;
  }

  private async runBatch(names: readonly string[]): Promise<RegexHit[]> {
    if (this.rules.length === 0 || names.length === 0) return [];
    const skip = new Set(this.disabled);
    // Each overrun removes one rule from this batch, so this loop ends after at most rules.length rounds.
    for (;;) {
      if (skip.size >= this.rules.length) return [];
      const outcome = await this.once(names, [...skip]);
      if (outcome !== 'timeout') return outcome;
      const blamed = Atomics.load(new Int32Array(this.progress), 0);
      const rule = this.rules.find((r) => r.id === blamed);
      if (!rule) {
        // The worker died between rules (it was not running a regex); try again with a fresh one.
        continue;
      }
      const count = (this.timeouts.get(rule.id) ?? 0) + 1;
      this.timeouts.set(rule.id, count);
      const disable = count >= this.maxTimeouts;
      if (disable) this.disabled.add(rule.id);
      skip.add(rule.id);
      this.onTimeout?.(rule, count, disable);
    }
  }

  /** One attempt at a batch: the hits, or 'timeout' after the worker was terminated. */
  private once(names: readonly string[], skip: number[]): Promise<RegexHit[] | 'timeout'> {
    const worker = this.ensureWorker();
    const seq = ++this.seq;
    Atomics.store(new Int32Array(this.progress), 0, -1);
    return new Promise((resolve, reject) => {
      const cleanup = () => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('error', onError);
      };
      const onMessage = (m: { seq: number; hits: number[] }) => {
        if (m.seq !== seq) return;
        cleanup();
        const hits: RegexHit[] = [];
        for (let i = 0; i < m.hits.length; i += 2) hits.push({ name: m.hits[i], rule: m.hits[i + 1] });
        resolve(hits);
      };
      const onError = (err: Error) => {
        cleanup();
        this.worker = undefined;
        reject(err);
      };
      const timer = setTimeout(() => {
        cleanup();
        this.worker = undefined;
        void worker.terminate().then(() => resolve('timeout'), () => resolve('timeout'));
      }, this.timeoutMs);
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.postMessage({ seq, names, skip });
    });
  }

  /** Stops the worker. */
  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }
}
