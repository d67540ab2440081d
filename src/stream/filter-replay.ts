/**
 * A filtered durable or `since` client's read from the replay window: of the frames a window read gave
 * for seqs [first, next), the ones whose entries pass the client's rule set, framed back to back (the
 * same bytes as the unfiltered stream's frames). The client's position stays a seq of the whole window,
 * so it resumes exactly where it stopped whatever its filter passed.
 *
 * Frames are not parsed: an entry's names are the `all_domains` array the renderer writes first in a
 * lite or full frame's `leaf_cert` (`"leaf_cert":{"all_domains":[…]`, found with a byte search; no
 * unescaped quote can occur inside a JSON string, so the search cannot hit a value), or a domains
 * frame's `data`; only a frame whose names hold escapes (or that is not the renderer's) is JSON-parsed.
 * A second window read for the domains frames of the same seqs cost as much as the first one.
 */
import type { FramedBatch, ReplayBatch } from '../replay/replay-window.js';
import { entryNames, type FilterSet } from './filter-sets.js';
import { normaliseName } from '../match/name-rule.js';
import type { StreamName } from './stream-paths.js';

const LEAF_DOMAINS = Buffer.from('"leaf_cert":{"all_domains":[');
/** Ends the array: `],"` cannot occur inside a JSON string (its quote would be escaped). */
const ARRAY_END = Buffer.from('],"');

/** The frames of `read` (a window read of `stream`) whose entries pass `set`; the number examined is `read.batch.ends.length`. */
export function matchingFrames(stream: StreamName, read: ReplayBatch, set: FilterSet): FramedBatch {
  const { batch } = read;
  const n = batch.ends.length;
  if (n === 0) return batch;
  const payloads = batch.payloads;
  const keep: boolean[] = new Array<boolean>(n);
  let kept = 0;
  for (let i = 0; i < n; i++) {
    keep[i] = set.matches(stream === 'domains' ? entryNames(payloads[i].toString('utf8')) : frameNames(payloads[i]));
    if (keep[i]) kept++;
  }
  return kept === n ? batch : selectFrames(batch, keep, kept);
}

/** The normalised names (`data.leaf_cert.all_domains`) of a lite or full frame. */
export function frameNames(payload: Buffer): string[] {
  const at = payload.indexOf(LEAF_DOMAINS);
  const from = at + LEAF_DOMAINS.length;
  const end = at < 0 ? -1 : payload.indexOf(ARRAY_END, from);
  const backslash = end < 0 ? -1 : payload.indexOf(0x5c, from);
  if (end >= 0 && (backslash < 0 || backslash > end)) {
    if (end === from) return [];
    return payload.toString('utf8', from + 1, end - 1).split('","').map(normaliseName);
  }
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
