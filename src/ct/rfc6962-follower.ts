/**
 * Follows one RFC 6962 log: get-sth, then get-entries windows.
 * Logs cap the entries per response (Google 32, DigiCert 256, and Google cuts responses at multiples of
 * its cap), so the follower advances by what came back, never by what it asked for, learns the largest
 * short response as the log's real maximum, and from then on asks for windows aligned to multiples of it.
 * Up to `windows` windows are in flight at once; they are handed on strictly in index order.
 */
import { CertstreamError } from '../errors.js';
import { LogFollower, type EntryResult, type FollowerDeps } from './log-follower.js';
import { parseGetEntriesBody } from './get-entries-body.js';
import { decodeJsonEntry } from './merkle-leaf.js';
import { checkTreeSize } from './tree-size.js';

/** RFC 6962 specific settings. */
export interface Rfc6962Options {
  /** Parallel get-entries windows per log (default 2). */
  windows?: number;
  /** Entries asked for per request until the log's maximum is learned (default 1024). */
  requestSize?: number;
}

/** Parses a get-sth body; CT_ERR_BAD_RESPONSE when tree_size is missing, CT_ERR_IMPLAUSIBLE_HEAD when over 2^40. Pure. */
export function parseSth(body: unknown): { treeSize: number; timestamp: number } {
  const o = body as { tree_size?: unknown; timestamp?: unknown } | null;
  const size = o?.tree_size;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw new CertstreamError('CT_ERR_BAD_RESPONSE', 'get-sth: tree_size missing or not an integer');
  }
  checkTreeSize(size, null, 'get-sth: tree_size');
  return { treeSize: size, timestamp: typeof o?.timestamp === 'number' ? o.timestamp : 0 };
}

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

  protected async pollHead(signal: AbortSignal): Promise<number> {
    const sth = parseSth(await this.deps.http.getJson(`${this.log.monitoringUrl}ct/v1/get-sth`, signal));
    if (this.treeSize !== null && sth.treeSize < this.treeSize) {
      throw new CertstreamError('CT_ERR_TREE_SHRANK', `get-sth: tree_size ${sth.treeSize} < ${this.treeSize} seen before`);
    }
    return sth.treeSize;
  }

  /** Windows aligned to the learned maximum (or the request size), clamped to target. */
  protected planWindow(start: number, target: number): number {
    const size = this.learnedMax ?? this.requestSize;
    return Math.min(target, Math.floor(start / size) * size + size);
  }

  /** Fetches [start, end) completely, with as many requests as the log's cap needs. */
  protected async fetchWindow(start: number, end: number, signal: AbortSignal): Promise<EntryResult[]> {
    const out: EntryResult[] = [];
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
        try {
          out.push(decodeJsonEntry(index, items[i]));
        } catch (error) {
          out.push({ index, error });
        }
      }
      cur += n;
    }
    return out;
  }
}
