/**
 * Follows one static-ct-api (tiled) log: polls `<prefix>checkpoint`, then reads data tiles.
 *
 * Partial tiles: a busy log fills a 256-entry tile within seconds, so the follower reads full tiles and
 * leaves the right-most, partial tile alone until it has stayed partial for `partialDelayMs`; then it
 * reads that partial width once (never the same width twice) and, when the partial tile is gone (the
 * log has since filled the tile and deleted it), falls back to the full tile. Refetching partial tiles
 * on every poll multiplies the load on log operators for no gain.
 */
import { CertstreamError, isCertstreamError } from '../errors.js';
import { CompactRange } from '../verify/compact-range.js';
import { rangeFromInclusionProof } from '../verify/inclusion-proof.js';
import { timestampedEntryLeafHash } from '../verify/leaf-hash.js';
import { HASH_SIZE } from '../verify/merkle-hash.js';
import { inclusionPath, inclusionPathSubtrees, type Subtree } from '../verify/merkle-path.js';
import type { TreeHead } from '../verify/tree-head.js';
import { HttpStatusError } from './http-client.js';
import type { IssuerCache } from './issuer-cache.js';
import { LogFollower, type EntryResult, type FetchedWindow, type FollowerDeps } from './log-follower.js';
import { parseTileLeavesWithSpans, type TileLeaf } from './tile-leaf.js';
import { TILE_WIDTH, dataTilePath, hashTilePath } from './tile-path.js';

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
  /** The right-most partial tile being watched: its number, since when, and the widest width read. */
  private partial: { tile: number; since: number; readWidth: number } | null = null;
  /** Tile fetches made, by kind (for tests and status). */
  readonly tileFetches = { full: 0, partial: 0 };

  constructor(deps: FollowerDeps, options: StaticOptions) {
    super(deps, options.windows);
    this.issuers = options.issuers;
    this.partialDelayMs = options.partialDelayMs ?? 10_000;
  }

  /**
   * The range before the cursor from the log's hash tiles: the audit path of entry next − 1 in the tree
   * of `head` built from the subtrees it needs (a subtree of height 8L + j is the root of 2^j consecutive
   * hashes of a level-L tile, as the tiles stand at the head's size), then checked against the signed root.
   */
  protected override async proveRange(next: number, head: TreeHead, signal: AbortSignal): Promise<CompactRange> {
    const index = next - 1;
    const needed = [...inclusionPathSubtrees(index, head.treeSize), { start: index, height: 0 }];
    const tiles = new Map<string, Promise<Buffer>>();
    const hashes = new Map<string, Buffer>();
    await Promise.all(needed.map(async (s) => hashes.set(`${s.start}/${s.height}`, await this.subtreeHash(s, head.treeSize, tiles, signal))));
    const lookup = (s: Subtree) => hashes.get(`${s.start}/${s.height}`)!;
    return rangeFromInclusionProof(index, head.treeSize, lookup({ start: index, height: 0 }), inclusionPath(index, head.treeSize, lookup), head.rootHash);
  }

  /** A perfect subtree's hash from the hash tiles of the tree of `size` entries (each tile fetched once). */
  private async subtreeHash(s: Subtree, size: number, tiles: Map<string, Promise<Buffer>>, signal: AbortSignal): Promise<Buffer> {
    const level = Math.floor(s.height / 8);
    const count = 2 ** (s.height % 8);
    const span = 256 ** level;
    const node = s.start / span;
    const tile = Math.floor(node / TILE_WIDTH);
    const width = Math.min(TILE_WIDTH, Math.floor(size / span) - tile * TILE_WIDTH);
    const path = hashTilePath(level, tile, width);
    let body = tiles.get(path);
    if (!body) tiles.set(path, (body = this.deps.http.get(`${this.log.monitoringUrl}${path}`, signal).then((r) => r.body)));
    const bytes = await body;
    const from = (node - tile * TILE_WIDTH) * HASH_SIZE;
    if (bytes.length !== width * HASH_SIZE || from + count * HASH_SIZE > bytes.length) {
      throw new CertstreamError('CT_ERR_BAD_TILE', `${this.log.monitoringUrl}${path}: ${bytes.length} bytes, expected ${width * HASH_SIZE}`);
    }
    const range = new CompactRange();
    for (let i = 0; i < count; i++) range.append(bytes.subarray(from + i * HASH_SIZE, from + (i + 1) * HASH_SIZE));
    return range.root();
  }

  /**
   * Full tiles first (a window per tile); the right-most, partial tile only once it has stayed partial
   * for the delay, and only at a width not read before.
   */
  protected planWindow(start: number, target: number): number | null {
    const tile = Math.floor(start / TILE_WIDTH);
    const tileEnd = (tile + 1) * TILE_WIDTH;
    if (tileEnd <= target) return tileEnd;
    const now = this.deps.now();
    if (this.partial === null || this.partial.tile !== tile) this.partial = { tile, since: now, readWidth: 0 };
    const width = target - tile * TILE_WIDTH;
    if (now - this.partial.since < this.partialDelayMs || width <= this.partial.readWidth) return null;
    return target;
  }

  protected async fetchWindow(start: number, end: number, signal: AbortSignal): Promise<FetchedWindow> {
    const tile = Math.floor(start / TILE_WIDTH);
    const width = end - tile * TILE_WIDTH;
    const window = await this.readTile(tile, width, start, signal);
    if (width < TILE_WIDTH) this.partial = { tile, since: this.deps.now(), readWidth: width };
    return window;
  }

  /**
   * Fetches and decodes one data tile of `width` entries (256 = full), returning the entries from `start` on.
   * A partial tile that is gone (404) is read as the full tile, of which only `width` entries are used.
   */
  private async readTile(tile: number, width: number, start: number, signal: AbortSignal): Promise<FetchedWindow> {
    const first = tile * TILE_WIDTH;
    let leaves: TileLeaf[];
    let leafHashes: Buffer[];
    try {
      ({ leaves, leafHashes } = await this.fetchLeaves(tile, width, signal));
    } catch (err) {
      if (width === TILE_WIDTH || !(err instanceof HttpStatusError) || err.status !== 404) throw err;
      this.logger.info('partial tile gone, reading the full tile', { tile, width });
      ({ leaves, leafHashes } = await this.fetchLeaves(tile, TILE_WIDTH, signal));
    }
    if (leaves.length < width) {
      throw new CertstreamError('CT_ERR_BAD_TILE', `data tile ${tile} of ${this.log.url}: ${leaves.length} entries, expected ${width}`);
    }
    const used = leaves.slice(Math.max(0, start - first), width);
    const usedHashes = leafHashes.slice(Math.max(0, start - first), width);
    // A tile names a handful of distinct issuers for its 256 entries: resolve each once.
    const fingerprints = [...new Set(used.flatMap((leaf) => leaf.chain))];
    const settled = await Promise.allSettled(fingerprints.map((fp) => this.issuers.get(this.log.monitoringUrl, fp, signal)));
    const issuer = new Map<string, Uint8Array>();
    const unusable = new Map<string, unknown>();
    settled.forEach((r, i) => {
      if (r.status === 'fulfilled') issuer.set(fingerprints[i], r.value);
      // An oversized issuer will never become usable: its entries are skipped (and counted), not retried.
      else if (isCertstreamError(r.reason, 'CT_ERR_TOO_LARGE')) unusable.set(fingerprints[i], r.reason);
      else throw r.reason;
    });
    const from = first + width - used.length;
    const entries = used.map((leaf, i): EntryResult => {
      const index = from + i;
      const bad = leaf.chain.find((fp) => unusable.has(fp));
      if (bad !== undefined) return { index, error: unusable.get(bad) };
      return { index, timestamp: leaf.timestamp, type: leaf.type, leaf: leaf.cert, chain: leaf.chain.map((fp) => issuer.get(fp)!) };
    });
    return { entries, leafHashes: usedHashes };
  }

  /** A data tile's leaves and, while the log is verified, their leaf hashes (from the bytes as served). */
  private async fetchLeaves(tile: number, width: number, signal: AbortSignal): Promise<{ leaves: TileLeaf[]; leafHashes: Buffer[] }> {
    const url = `${this.log.monitoringUrl}${dataTilePath(tile, width)}`;
    if (width === TILE_WIDTH) this.tileFetches.full++;
    else this.tileFetches.partial++;
    const res = await this.deps.http.get(url, signal);
    try {
      const { leaves, spans } = parseTileLeavesWithSpans(res.body, tile * TILE_WIDTH);
      const leafHashes = this.verification.hashing ? spans.map((s) => timestampedEntryLeafHash(res.body.subarray(s.start, s.end))) : [];
      return { leaves, leafHashes };
    } catch (err) {
      throw new CertstreamError('CT_ERR_BAD_TILE', `${url}: ${(err as Error).message}`, { cause: err });
    }
  }
}
