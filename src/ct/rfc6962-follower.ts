/**
 * Follows one RFC 6962 log: get-sth, then get-entries windows.
 * Logs cap the entries per response (Google 32, DigiCert 256, and Google cuts responses at multiples of
 * its cap), so the follower advances by what came back, never by what it asked for, learns the largest
 * short response as the log's real maximum, and from then on asks for windows aligned to multiples of it.
 * Up to `windows` windows are in flight at once; they are handed on strictly in index order.
 */
import { CertstreamError } from '../errors.js';
import type { CompactRange } from '../verify/compact-range.js';
import { rangeFromInclusionProof } from '../verify/inclusion-proof.js';
import { rfc6962LeafHash } from '../verify/leaf-hash.js';
import type { TreeHead } from '../verify/tree-head.js';
import { LogFollower, type EntryResult, type FetchedWindow, type FollowerDeps } from './log-follower.js';
import { parseGetEntriesBody } from './get-entries-body.js';
import { decodeJsonEntry } from './merkle-leaf.js';

/** RFC 6962 specific settings. */
export interface Rfc6962Options {
  /** Parallel get-entries windows per log (default 2). */
  windows?: number;
  /** Entries asked for per request until the log's maximum is learned (default 1024). */
  requestSize?: number;
}

/** Parses a get-sth body (served-head.ts; exported here too for its older callers). */
export { parseSth } from './served-head.js';

export class Rfc6962Follower extends LogFollower {
  private readonly requestSize: number;
  /** Largest number of entries the log returned in a response that was shorter than asked. */
  private learnedMax: number | null = null;

  constructor(deps: FollowerDeps, options: Rfc6962Options = {}) {
    super(deps, options.windows);
    this.requestSize = Math.max(1, options.requestSize ?? 1024);
  }

  /** The learned per-response maximum, or null while unknown (for tests and status pages). */
  get maxEntriesPerResponse(): number | null {
    return this.learnedMax;
  }

  /** get-entry-and-proof of entry next − 1 against `head` (one request; RFC 6962 §4.8). */
  protected override async proveRange(next: number, head: TreeHead, signal: AbortSignal): Promise<CompactRange> {
    const url = `${this.log.monitoringUrl}ct/v1/get-entry-and-proof?leaf_index=${next - 1}&tree_size=${head.treeSize}`;
    const o = (await this.deps.http.getJson(url, signal)) as { leaf_input?: unknown; audit_path?: unknown } | null;
    const path = o?.audit_path;
    if (typeof o?.leaf_input !== 'string' || !Array.isArray(path) || !path.every((p) => typeof p === 'string')) {
      throw new CertstreamError('CT_ERR_BAD_RESPONSE', `get-entry-and-proof of ${this.log.url}: leaf_input or audit_path missing`);
    }
    const proof = (path as string[]).map((p) => Buffer.from(p, 'base64'));
    return rangeFromInclusionProof(next - 1, head.treeSize, leafHashOf(o), proof, head.rootHash);
  }

  /** Windows aligned to the learned maximum (or the request size), clamped to target. */
  protected planWindow(start: number, target: number): number {
    const size = this.learnedMax ?? this.requestSize;
    return Math.min(target, Math.floor(start / size) * size + size);
  }

  /** Fetches [start, end) completely, with as many requests as the log's cap needs. */
  protected async fetchWindow(start: number, end: number, signal: AbortSignal): Promise<FetchedWindow> {
    const out: EntryResult[] = [];
    const leafHashes: Buffer[] = [];
    const hashing = this.verification.hashing;
    let cur = start;
    while (cur < end) {
      const last = end - 1;
      const url = `${this.log.monitoringUrl}ct/v1/get-entries?start=${cur}&end=${last}`;
      const asked = end - cur;
      const res = await this.deps.http.get(url, signal);
      let items: unknown[];
      try {
        items = parseGetEntriesBody(res.body, asked);
      } catch (err) {
        throw new CertstreamError('CT_ERR_BAD_RESPONSE', `get-entries ${cur}-${last} of ${this.log.url}: ${(err as Error).message}`, { cause: err });
      }
      if (items.length === 0) {
        throw new CertstreamError('CT_ERR_BAD_RESPONSE', `get-entries ${cur}-${last} of ${this.log.url}: empty response`);
      }
      if (items.length < asked && items.length > (this.learnedMax ?? 0)) {
        this.learnedMax = items.length;
        this.logger.info('learned get-entries maximum', { max_entries: items.length });
      }
      const n = Math.min(items.length, asked);
      for (let i = 0; i < n; i++) {
        const index = cur + i;
        // Undecodable entries are hashed too: the log's tree holds whatever it served.
        if (hashing) leafHashes.push(leafHashOf(items[i]));
        try {
          out.push(decodeJsonEntry(index, items[i]));
        } catch (error) {
          out.push({ index, error });
        }
      }
      cur += n;
    }
    return { entries: out, leafHashes };
  }
}

/** A get-entries / get-entry-and-proof item's leaf hash, from its `leaf_input` bytes as served (none: an empty leaf, which no signed root holds). */
function leafHashOf(item: unknown): Buffer {
  const input = (item as { leaf_input?: unknown } | null)?.leaf_input;
  return rfc6962LeafHash(typeof input === 'string' ? Buffer.from(input, 'base64') : Buffer.alloc(0));
}
