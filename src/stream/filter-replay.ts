/**
 * A filtered durable or `since` client's read from the replay window: of the frames a window read gave
 * for seqs [first, next), the ones whose entries pass the client's rule set, framed back to back (the
 * same bytes as the unfiltered stream's frames). The client's position stays a seq of the whole window,
 * so it resumes exactly where it stopped whatever its filter passed.
 *
 * Entries are matched on their `/domains-only` frames — a second window read of the same seqs, small
 * frames — never by parsing a lite or full frame, unless that read cannot be lined up seq for seq with
 * the first (the window left a damaged record out of either): then each frame's own names are used.
 */
import type { FramedBatch, ReplayBatch, ReplayWindow } from '../replay/replay-window.js';
import { entryNames, type FilterSet } from './filter-sets.js';
import { normaliseName } from '../match/name-rule.js';
import type { StreamName } from './stream-paths.js';

/** Bytes of domains frames one window read asks for while lining them up with a batch. */
const DOMAINS_READ_BYTES = 1024 * 1024;

/** The frames of `read` (a window read of `stream`) whose entries pass `set`; the number examined is `read.batch.ends.length`. */
export async function matchingFrames(window: ReplayWindow, stream: StreamName, read: ReplayBatch, set: FilterSet): Promise<FramedBatch> {
  const { batch } = read;
  const n = batch.ends.length;
  if (n === 0) return batch;
  const domains = stream === 'domains' ? batch.payloads : read.next - read.first === n ? await domainsFrames(window, read.first, read.next) : undefined;
  const keep: boolean[] = new Array<boolean>(n);
  let kept = 0;
  for (let i = 0; i < n; i++) {
    const names = domains !== undefined ? entryNames(domains[i].toString('utf8')) : frameNames(batch.payloads[i]);
    keep[i] = set.matches(names);
    if (keep[i]) kept++;
  }
  return kept === n ? batch : selectFrames(batch, keep, kept);
}

/** The domains frames' payloads of seqs [first, next), or undefined when the window does not give exactly one per seq. */
async function domainsFrames(window: ReplayWindow, first: number, next: number): Promise<Buffer[] | undefined> {
  const out: Buffer[] = [];
  let at = first;
  while (at < next) {
    const r = window.read('domains', at, DOMAINS_READ_BYTES);
    const { first: got, next: after, batch } = r instanceof Promise ? await r : r;
    if (got !== at || after - got !== batch.ends.length || after <= at) return undefined;
    const take = Math.min(batch.ends.length, next - at);
    const payloads = batch.payloads;
    for (let i = 0; i < take; i++) out.push(payloads[i]);
    at += take;
  }
  return out;
}

/** The normalised names of a lite or full frame (`data.leaf_cert.all_domains`): the slow way, kept for a window that left records out. */
function frameNames(payload: Buffer): string[] {
  const m = JSON.parse(payload.toString('utf8')) as { data?: { leaf_cert?: { all_domains?: unknown } } };
  const all = m.data?.leaf_cert?.all_domains;
  return Array.isArray(all) ? all.filter((d): d is string => typeof d === 'string').map(normaliseName) : [];
}

/** The payload length of an unmasked server frame of `frame` bytes (ws-frame.ts header sizes). */
function payloadLength(frame: number): number {
  if (frame - 2 < 126) return frame - 2;
  return frame - 4 < 0x10000 ? frame - 4 : frame - 10;
}

/** The frames `keep` marks (`kept` of them), copied back to back in one buffer, in order. */
export function selectFrames(batch: FramedBatch, keep: readonly boolean[], kept: number): FramedBatch {
  const { ends } = batch;
  let total = 0;
  for (let i = 0; i < ends.length; i++) if (keep[i]) total += ends[i] - (i === 0 ? 0 : ends[i - 1]);
  const bytes = Buffer.allocUnsafe(total);
  const outEnds: number[] = [];
  const lengths: number[] = [];
  let at = 0;
  for (let i = 0; i < ends.length; i++) {
    if (!keep[i]) continue;
    const start = i === 0 ? 0 : ends[i - 1];
    at += batch.bytes.copy(bytes, at, start, ends[i]);
    outEnds.push(at);
    lengths.push(payloadLength(ends[i] - start));
  }
  if (outEnds.length !== kept) throw new Error('selectFrames: kept does not match keep');
  let views: Buffer[] | undefined;
  return {
    bytes,
    ends: outEnds,
    get payloads(): Buffer[] {
      views ??= outEnds.map((end, i) => bytes.subarray(end - lengths[i], end));
      return views;
    },
  };
}
