/**
 * How far each log is proven, for `verified=1` clients (interface.md "Verified logs"): an entry of a log
 * may go to them only once a verified signed head covers it (its `cert_index` < the log's verified size).
 * The ingest's verification reports every change (LogVerification's hook); the hub asks per entry.
 *
 * An entry is judged:
 * - `yes`: covered now.
 * - `later`: not yet; a head may still cover it (the log is `ok` and behind, `pending`, or held by a bad
 *   signature, which heals when its heads verify again).
 * - `never`: nothing will ever prove it: the log is `unverifiable` (no usable key), verification is `off`
 *   (--verify false), the log is stopped for good (root mismatch, inconsistent heads: only the operator's
 *   reset follows it again, and then from its head), or the log is not followed at all (left the list,
 *   or the entry was in the window before this process knew of it). Such entries are skipped, so that
 *   one log can never hold the others back.
 *
 * Until the ingest has reported its logs (`ready`), every entry is `later`.
 */
import type { VerificationState } from '../ct/types.js';

/** Whether an entry may go to a verified=1 client now, later, or never. */
export type Coverage = 'yes' | 'later' | 'never';

interface LogCoverage {
  /** Entries below this index are covered (0 while nothing is verified). */
  readonly size: number;
  /** Nothing beyond `size` will ever be covered. */
  readonly final: boolean;
}

export class VerifiedCoverage {
  private readonly logs = new Map<string, LogCoverage>();
  private readonly listeners: (() => void)[] = [];
  private isReady = false;
  private changes = 0;

  /** Changes so far: two judgements at the same version are the same. */
  get version(): number {
    return this.changes;
  }

  /** Whether the ingest has reported its logs (before that, every entry is `later`). */
  get ready(): boolean {
    return this.isReady;
  }

  /** The ingest's followers exist and have reported: logs it does not know are `never` from now on. */
  markReady(): void {
    this.isReady = true;
    this.changed();
  }

  /**
   * A log's verification changed (LogVerification's hook).
   * @param verifiedSize the largest tree size whose signed root matched, or null
   * @param stopped the log is stopped for good (root mismatch, inconsistent heads)
   */
  update(log: string, verifiedSize: number | null, state: VerificationState, stopped: boolean): void {
    const size = verifiedSize ?? 0;
    const final = state === 'unverifiable' || state === 'off' || stopped;
    const old = this.logs.get(log);
    if (old !== undefined && old.size === size && old.final === final) return;
    this.logs.set(log, { size, final });
    this.changed();
  }

  /** Whether the entry `index` of `log` may go to a verified=1 client. */
  judge(log: string, index: number): Coverage {
    const c = this.logs.get(log);
    if (c === undefined) return this.isReady ? 'never' : 'later';
    if (index < c.size) return 'yes';
    return c.final ? 'never' : 'later';
  }

  /** Whether every one of `entries` is covered now (an empty list is). */
  coversAll(entries: readonly { readonly log: string; readonly index: number }[]): boolean {
    for (const e of entries) if (this.judge(e.log, e.index) !== 'yes') return false;
    return true;
  }

  /** Calls `listener` (synchronously) after every change: held verified=1 readers try again. */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  private changed(): void {
    this.changes++;
    for (const l of this.listeners) l();
  }
}
