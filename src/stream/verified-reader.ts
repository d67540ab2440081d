/**
 * A `verified=1` client's reads from the replay window (interface.md "Verified logs"): of the frames a
 * read gave, the ones whose entries a verified signed head covers (verified-coverage.ts), per log in
 * order, without one log holding the others back.
 *
 * The client reads forward (`nextSeq`, as every window reader): a covered entry is written; the first
 * entry of a log that is not covered yet holds that log back from its seq on (`held`), and the log's
 * later entries are passed over too, so its order is kept; an entry that will never be covered (an
 * unverifiable log, verification off, a log stopped for lying) is skipped. When a held log's first entry
 * becomes covered, the reader scans again from there up to `nextSeq` for that log's entries alone (a
 * `rescan`), writing them until one is not covered yet (held again there) or `nextSeq` is reached.
 *
 * Its position (what a pong confirms) is the lowest held seq, or `nextSeq` when nothing is held: a resume
 * starts there, so nothing is skipped; entries of other logs after it may come a second time, as after
 * any cut. Pure: no I/O, the pump (durable-fanout.ts) reads and writes.
 */
import type { FrameKey, FramedBatch, ReplayBatch } from '../replay/replay-window.js';
import { selectFrames } from './filter-replay.js';
import type { VerifiedCoverage } from './verified-coverage.js';

/** Where a held log's first entry not yet written is. */
export interface HeldEntry {
  readonly seq: number;
  readonly index: number;
}

/** A scan again of held logs whose first entry became covered: at `at`, for `logs` (until `nextSeq`). */
export interface Rescan {
  at: number;
  readonly logs: Set<string>;
}

/** One verified=1 reader's state. */
export class VerifiedReader {
  /** The logs held back, by log URL. */
  readonly held = new Map<string, HeldEntry>();
  /** The scan again under way, if any. */
  rescan: Rescan | undefined;
  /** Coverage changed while a pump ran: it pumps once more when done. */
  recheck = false;

  constructor(readonly coverage: VerifiedCoverage) {}

  /** What the reader's judgements depend on besides the read: the coverage, what it holds, its scan. */
  signature(rescan: Rescan | undefined, nextSeq: number): string {
    const held = [...this.held].map(([log, h]) => `${log} ${h.seq} ${h.index}`).sort().join('\n');
    const scan = rescan === undefined ? '' : `${rescan.at} ${[...rescan.logs].sort().join(' ')}`;
    return `${this.coverage.version}|${nextSeq}|${scan}|${held}`;
  }

  /** The lowest held seq (or `nextSeq`): everything before it was written or will never be. */
  position(nextSeq: number): number {
    let low = nextSeq;
    for (const h of this.held.values()) if (h.seq < low) low = h.seq;
    return low;
  }

  /**
   * The scan again to read now, or undefined (read forward). Held logs that will never be covered are
   * let go (their entries are skipped); a scan that reached `nextSeq` ends: its logs are written up to it.
   */
  nextRescan(nextSeq: number): Rescan | undefined {
    const r = this.rescan;
    if (r !== undefined) {
      if (r.at < nextSeq && r.logs.size > 0) return r;
      for (const log of r.logs) this.held.delete(log);
      this.rescan = undefined;
    }
    let logs: Set<string> | undefined;
    let at = nextSeq;
    for (const [log, h] of this.held) {
      const judged = this.coverage.judge(log, h.index);
      if (judged === 'later') continue;
      if (judged === 'never') {
        this.held.delete(log);
        continue;
      }
      (logs ??= new Set()).add(log);
      if (h.seq < at) at = h.seq;
    }
    if (logs === undefined) return undefined;
    this.rescan = { at, logs };
    return this.rescan;
  }

  /**
   * Whether a shared live batch of `entries` may go to this reader as is: every entry covered, none of a
   * log it holds back, and no scan again under way (it writes entries before the batch's).
   */
  takes(entries: readonly { readonly log: string; readonly index: number }[]): boolean {
    if (entries.length === 0) return true;
    if (this.rescan !== undefined) return false;
    if (this.held.size === 0) return this.coverage.coversAll(entries);
    for (const e of entries) if (this.held.has(e.log) || this.coverage.judge(e.log, e.index) !== 'yes') return false;
    return true;
  }

  /** Forward: which frames of a read (their `keys`) to write; holds the logs not covered yet. */
  forward(keys: readonly FrameKey[]): boolean[] {
    return keys.map((k) => {
      if (this.held.has(k.log)) return false;
      const judged = this.coverage.judge(k.log, k.index);
      if (judged === 'later') this.held.set(k.log, { seq: k.seq, index: k.index });
      return judged === 'yes';
    });
  }

  /**
   * The scan again: which frames of a read to write (the rescan's logs' entries from their held seq,
   * before `nextSeq`); a log whose entry is not covered yet is held there and leaves the scan.
   */
  again(keys: readonly FrameKey[], rescan: Rescan, nextSeq: number): boolean[] {
    return keys.map((k) => {
      if (k.seq >= nextSeq || !rescan.logs.has(k.log)) return false;
      const h = this.held.get(k.log);
      if (h === undefined || k.seq < h.seq) return false;
      const judged = this.coverage.judge(k.log, k.index);
      if (judged === 'yes') return true;
      rescan.logs.delete(k.log);
      if (judged === 'later') this.held.set(k.log, { seq: k.seq, index: k.index });
      else this.held.delete(k.log);
      return false;
    });
  }
}

const HEARTBEAT = Buffer.from('{"message_type":"heartbeat"');

/** The heartbeat frames of a live batch (a verified=1 client that holds its entries back still gets them). */
export function heartbeatFrames(batch: FramedBatch): FramedBatch {
  if (!batch.bytes.includes(HEARTBEAT)) return selectFrames(batch, [], 0);
  const keep = batch.payloads.map((p) => p.length < 100 && p.subarray(0, HEARTBEAT.length).equals(HEARTBEAT));
  return selectFrames(batch, keep, keep.filter(Boolean).length);
}

/** A selection made for one reader, and the state it left that reader in. */
interface Selected {
  readonly read: ReplayBatch;
  readonly held: readonly [string, HeldEntry][];
  readonly rescanLogs: readonly string[] | undefined;
}

/**
 * The frames of verified=1 readers' window reads that each may have, made once per distinct reader state:
 * readers in the same state (same coverage, held logs, scan) reading the same read (shared by the pump)
 * get the same frames and end in the same state, so the first one's selection and resulting state are
 * handed to the others. Kept as long as the read itself is.
 */
export class VerifiedSelections {
  private readonly made = new WeakMap<ReplayBatch, Map<string, Selected>>();

  /** The frames of `read` (with its keys) that `reader` may have; updates its state. */
  select(reader: VerifiedReader, read: ReplayBatch, rescan: Rescan | undefined, nextSeq: number): ReplayBatch {
    let bySignature = this.made.get(read);
    if (bySignature === undefined) this.made.set(read, (bySignature = new Map()));
    const signature = reader.signature(rescan, nextSeq);
    const known = bySignature.get(signature);
    if (known !== undefined) {
      reader.held.clear();
      for (const [log, h] of known.held) reader.held.set(log, h);
      if (rescan !== undefined && known.rescanLogs !== undefined) {
        rescan.logs.clear();
        for (const log of known.rescanLogs) rescan.logs.add(log);
      }
      return known.read;
    }
    const keys = read.keys ?? [];
    const keep = rescan === undefined ? reader.forward(keys) : reader.again(keys, rescan, nextSeq);
    let kept = 0;
    for (const k of keep) if (k) kept++;
    const out = kept === read.batch.ends.length ? read : { first: read.first, next: read.next, batch: selectFrames(read.batch, keep, kept), keys: keys.filter((_, i) => keep[i]) };
    bySignature.set(signature, { read: out, held: [...reader.held], rescanLogs: rescan && [...rescan.logs] });
    return out;
  }
}
