/**
 * Follows one static-ct-api (tiled) log: polls `<prefix>checkpoint`, then reads data tiles.
 *
 * Partial tiles: a busy log fills a 256-entry tile within seconds, so the follower reads full tiles and
 * leaves the right-most, partial tile alone until it has stayed partial for `partialDelayMs`; then it
 * reads that partial width once (never the same width twice) and, when the partial tile is gone (the
 * log has since filled the tile and deleted it), falls back to the full tile. Refetching partial tiles
 * on every poll multiplies the load on log operators for no gain.
 */
import { CertstreamError } from '../errors.js';
import { parseLogCheckpoint } from './checkpoint.js';
import { HttpStatusError } from './http-client.js';
import type { IssuerCache } from './issuer-cache.js';
import { LogFollower, type EntryResult, type FollowerDeps } from './log-follower.js';
import { parseTileLeaves, type TileLeaf } from './tile-leaf.js';
import { TILE_WIDTH, dataTilePath } from './tile-path.js';
import type { CtEntry } from './types.js';

/** static-ct-api specific settings. */
export interface StaticOptions {
  /** Shared issuer cache (required: chains are only named by fingerprint). */
  issuers: IssuerCache;
  /** How long the right-most tile must stay partial before it is read, ms (default 10_000). */
  partialDelayMs?: number;
  /** Full data tiles fetched in parallel during catch-up (default 2). */
  windows?: number;
}

export class StaticFollower extends LogFollower {
  private readonly issuers: IssuerCache;
  private readonly partialDelayMs: number;
  private readonly windows: number;
  /** The right-most partial tile being watched: its number, since when, and the widest width read. */
  private partial: { tile: number; since: number; readWidth: number } | null = null;
  /** Tile fetches made, by kind (for tests and status). */
  readonly tileFetches = { full: 0, partial: 0 };

  constructor(deps: FollowerDeps, options: StaticOptions) {
    super(deps);
    this.issuers = options.issuers;
    this.partialDelayMs = options.partialDelayMs ?? 10_000;
    this.windows = Math.max(1, options.windows ?? 2);
  }

  protected async pollHead(signal: AbortSignal): Promise<number> {
    const url = `${this.log.monitoringUrl}checkpoint`;
    const res = await this.deps.http.get(url, signal);
    const cp = parseLogCheckpoint(res.body.toString('utf8'), this.log.submissionUrl, url);
    if (this.treeSize !== null && cp.treeSize < this.treeSize) {
      throw new CertstreamError('CT_ERR_TREE_SHRANK', `${url}: tree size ${cp.treeSize} < ${this.treeSize} seen before`);
    }
    return cp.treeSize;
  }

  protected async fetchUpTo(target: number, signal: AbortSignal): Promise<void> {
    const round = new AbortController();
    const onAbort = () => round.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    const fullTiles = Math.floor(target / TILE_WIDTH);
    const queue: { tile: number; result: Promise<EntryResult[]> }[] = [];
    let planned = Math.floor((this.next ?? 0) / TILE_WIDTH);
    try {
      // Full tiles first, a few in parallel, delivered in order.
      while ((this.next ?? 0) < fullTiles * TILE_WIDTH) {
        while (queue.length < this.windows && planned < fullTiles) {
          const result = this.readTile(planned, TILE_WIDTH, round.signal);
          result.catch(() => undefined);
          queue.push({ tile: planned, result });
          planned++;
        }
        const head = queue.shift();
        if (!head) break;
        const entries = await head.result;
        await this.waitForRoom(signal);
        if (signal.aborted) return;
        this.deliver(entries, (head.tile + 1) * TILE_WIDTH);
      }
      if ((this.next ?? 0) < target) await this.maybeReadPartial(fullTiles, target - fullTiles * TILE_WIDTH, round.signal);
    } finally {
      round.abort();
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** Reads the right-most partial tile once it has stayed partial long enough, at a width not read before. */
  private async maybeReadPartial(tile: number, width: number, signal: AbortSignal): Promise<void> {
    const now = this.deps.now();
    if (this.partial === null || this.partial.tile !== tile) {
      this.partial = { tile, since: now, readWidth: 0 };
    }
    if (now - this.partial.since < this.partialDelayMs || width <= this.partial.readWidth) return;
    const entries = await this.readTile(tile, width, signal);
    this.partial = { tile, since: this.deps.now(), readWidth: width };
    await this.waitForRoom(signal);
    if (signal.aborted) return;
    this.deliver(entries, tile * TILE_WIDTH + width);
  }

  /**
   * Fetches and decodes one data tile of `width` entries (256 = full), returning the entries from this.next on.
   * A partial tile that is gone (404) is read as the full tile, of which only `width` entries are used.
   */
  private async readTile(tile: number, width: number, signal: AbortSignal): Promise<EntryResult[]> {
    const first = tile * TILE_WIDTH;
    let leaves: TileLeaf[];
    try {
      leaves = await this.fetchLeaves(tile, width, signal);
    } catch (err) {
      if (width === TILE_WIDTH || !(err instanceof HttpStatusError) || err.status !== 404) throw err;
      this.logger.info('partial tile gone, reading the full tile', { tile, width });
      leaves = await this.fetchLeaves(tile, TILE_WIDTH, signal);
    }
    if (leaves.length < width) {
      throw new CertstreamError('CT_ERR_BAD_TILE', `data tile ${tile} of ${this.log.url}: ${leaves.length} entries, expected ${width}`);
    }
    const used = leaves.slice(Math.max(0, (this.next ?? 0) - first), width);
    // A tile names a handful of distinct issuers for its 256 entries: resolve each once.
    const fingerprints = [...new Set(used.flatMap((leaf) => leaf.chain))];
    const ders = await Promise.all(fingerprints.map((fp) => this.issuers.get(this.log.monitoringUrl, fp, signal)));
    const issuer = new Map(fingerprints.map((fp, i) => [fp, ders[i]]));
    const from = first + width - used.length;
    return used.map((leaf, i): CtEntry => ({
      index: from + i,
      timestamp: leaf.timestamp,
      type: leaf.type,
      leaf: leaf.cert,
      chain: leaf.chain.map((fp) => issuer.get(fp)!),
    }));
  }

  private async fetchLeaves(tile: number, width: number, signal: AbortSignal): Promise<TileLeaf[]> {
    const url = `${this.log.monitoringUrl}${dataTilePath(tile, width)}`;
    if (width === TILE_WIDTH) this.tileFetches.full++;
    else this.tileFetches.partial++;
    const res = await this.deps.http.get(url, signal);
    try {
      return parseTileLeaves(res.body, tile * TILE_WIDTH);
    } catch (err) {
      throw new CertstreamError('CT_ERR_BAD_TILE', `${url}: ${(err as Error).message}`, { cause: err });
    }
  }
}
