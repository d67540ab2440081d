/**
 * The Merkle tree of one fake log, computed for real (RFC 6962 roots over the entries it serves). Entry
 * i of a fake log is a pure function of i (corpus item i mod its size, the static leaf_index rewritten
 * to i), so the tree at any size is defined even before `append` reaches it (a head pinned ahead).
 * A compact range is advanced lazily to the largest size asked for, so a head costs O(log n) plus one
 * leaf hash per new entry; snapshots every SNAPSHOT_EVERY leaves answer a smaller size (a head pinned
 * behind, a log told to serve an old head) with at most SNAPSHOT_EVERY leaf hashes.
 */
import { CompactRange } from '../src/verify/compact-range.js';
import { inclusionPath, type Subtree } from '../src/verify/merkle-path.js';

/** Leaves between two saved snapshots of the compact range. */
export const SNAPSHOT_EVERY = 4096;

/** Furthest beyond the largest size computed so far that a root is computed (2^20 leaves, ~1 s). */
export const MAX_AHEAD = 2 ** 20;

export class FakeTree {
  private readonly range = new CompactRange();
  /** snapshots[k] is the range at size k * SNAPSHOT_EVERY. */
  private readonly snapshots: CompactRange[] = [new CompactRange()];
  private readonly cache = new Map<number, Buffer>();

  /** @param leafHash the leaf hash of entry i */
  constructor(private readonly leafHash: (index: number) => Buffer) {}

  /** Leaves hashed so far. */
  get computedSize(): number {
    return this.range.size;
  }

  /**
   * The root of the first `size` entries, or null when `size` is more than MAX_AHEAD beyond what was
   * computed (an absurd pinned head such as 2^53 - 1: no real log could sign it, and no test reads it).
   */
  root(size: number): Buffer | null {
    const cached = this.cache.get(size);
    if (cached) return cached;
    let root: Buffer;
    if (size >= this.range.size) {
      if (size - this.range.size > MAX_AHEAD) return null;
      this.advance(this.range, size, true);
      root = this.range.root();
    } else {
      const from = this.snapshots[Math.floor(size / SNAPSHOT_EVERY)].clone();
      this.advance(from, size, false);
      root = from.root();
    }
    if (this.cache.size >= 64) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(size, root);
    return root;
  }

  /** The hash of the perfect subtree of entries [start, start + 2^height) (hashes its leaves: O(2^height)). */
  subtree(s: Subtree): Buffer {
    const range = new CompactRange(); // a perfect tree's root: its leaves hashed as a tree of their own
    for (let i = s.start; i < s.start + 2 ** s.height; i++) range.append(this.leafHash(i));
    return range.root();
  }

  /** The RFC 6962 audit path of entry `index` in the tree of `size` entries (O(size) leaf hashes). */
  inclusionProof(index: number, size: number): Buffer[] {
    return inclusionPath(index, size, (s) => this.subtree(s));
  }

  private advance(range: CompactRange, size: number, snapshot: boolean): void {
    while (range.size < size) {
      range.append(this.leafHash(range.size));
      if (snapshot && range.size % SNAPSHOT_EVERY === 0) this.snapshots.push(range.clone());
    }
  }
}
