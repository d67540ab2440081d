/**
 * A compact range [0, size) of a Merkle tree (pure): the roots of the perfect subtrees the size splits
 * into, one per set bit of the size, largest (left-most) first. That is all a follower needs to keep to
 * compute the root of the tree it has streamed (at most 40 hashes for a 2^40-entry log): appending a leaf
 * merges the trailing perfect subtrees (amortised O(1) hashes), and the root folds the subtrees from the
 * right (O(log n)), which is RFC 6962's MTH because its left subtree is always the largest power of two
 * below the size.
 *
 * Sizes can exceed 2^32, so the bit arithmetic here is division, never the 32-bit bitwise operators.
 * The subtree roots live in one owned buffer, merged in place: an append allocates nothing but its
 * hashes' transient results (one append per streamed entry, so its cost is verification's cost).
 */
import { CertstreamError } from '../errors.js';
import { EMPTY_ROOT, HASH_SIZE, hashChildren, mergeChildrenAt } from './merkle-hash.js';

/** Largest size a compact range accepts (2^52: every index stays an exact JS number). */
export const MAX_RANGE_SIZE = 2 ** 52;

/** Subtree slots: one per bit of the largest size, and one for the leaf being merged in. */
const SLOTS = 53;

/** The JSON form of a compact range, saved with a log's cursor. */
export interface CompactRangeState {
  /** Number of leaves hashed. */
  size: number;
  /** The subtree roots, base64, largest subtree first; one per set bit of `size`. */
  hashes: string[];
  /** The range's root, base64: checked on load, so a damaged file is caught before it is trusted. */
  root: string;
}

/** Number of set bits of a non-negative safe integer. */
export function popCount(n: number): number {
  let count = 0;
  for (let v = n; v > 0; v = Math.floor(v / 2)) count += v % 2;
  return count;
}

export class CompactRange {
  /** Slot i (bytes [32i, 32i + 32)) is the i-th subtree root, largest first; `depth` slots are used. */
  private readonly slots = Buffer.alloc(SLOTS * HASH_SIZE);
  private depth = 0;
  private count = 0;

  /** Number of leaves appended so far (the tree size whose root `root()` returns). */
  get size(): number {
    return this.count;
  }

  /** Appends one leaf hash (32 bytes). */
  append(leafHash: Uint8Array): void {
    if (leafHash.length !== HASH_SIZE) throw new RangeError(`leaf hash of ${leafHash.length} bytes`);
    if (this.count >= MAX_RANGE_SIZE) throw new RangeError(`compact range full at ${this.count}`);
    let top = this.depth;
    this.slots.set(leafHash, top * HASH_SIZE);
    // Each trailing 1 bit of the old size is a subtree of the same height as the new one: merge them.
    for (let s = this.count; s % 2 === 1; s = (s - 1) / 2) mergeChildrenAt(this.slots, --top * HASH_SIZE);
    this.depth = top + 1;
    this.count++;
  }

  /**
   * Appends the leaf hashes of entries [firstIndex, firstIndex + hashes.length). Entries already in the
   * range (firstIndex < size, a re-read after a restart) are skipped; a gap is an error, since the root
   * would silently cover other entries.
   * @throws RangeError when firstIndex > size
   */
  appendFrom(firstIndex: number, leafHashes: readonly Uint8Array[]): void {
    if (!Number.isSafeInteger(firstIndex) || firstIndex < 0 || firstIndex > this.count) {
      throw new RangeError(`leaves from ${firstIndex} cannot extend a compact range of size ${this.count}`);
    }
    for (let i = this.count - firstIndex; i < leafHashes.length; i++) this.append(leafHashes[i]);
  }

  /** MTH of the leaves appended so far (RFC 6962 §2.1); SHA-256 of nothing when empty. */
  root(): Buffer {
    if (this.depth === 0) return Buffer.from(EMPTY_ROOT);
    let r: Uint8Array = this.slot(this.depth - 1);
    for (let i = this.depth - 2; i >= 0; i--) r = hashChildren(this.slot(i), r);
    return Buffer.from(r);
  }

  /** The i-th subtree root (a view of the slots, not a copy). */
  private slot(i: number): Buffer {
    return this.slots.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE);
  }

  /** A range of `size` leaves from its subtree roots (trusted: the callers check them). */
  private static of(size: number, hashes: readonly Uint8Array[]): CompactRange {
    const c = new CompactRange();
    hashes.forEach((h, i) => c.slots.set(h, i * HASH_SIZE));
    c.depth = hashes.length;
    c.count = size;
    return c;
  }

  /**
   * A range from its subtree roots, largest first (one per set bit of `size`), e.g. the left siblings
   * of a verified inclusion proof (inclusion-proof.ts) or nodes read from a tiled log's hash tiles.
   * @throws RangeError when the count or a hash length is wrong
   */
  static fromSubtrees(size: number, hashes: readonly Uint8Array[]): CompactRange {
    if (!Number.isSafeInteger(size) || size < 0 || size > MAX_RANGE_SIZE) throw new RangeError(`size ${size}`);
    if (hashes.length !== popCount(size)) throw new RangeError(`size ${size} needs ${popCount(size)} subtree hashes, got ${hashes.length}`);
    if (hashes.some((h) => h.length !== HASH_SIZE)) throw new RangeError('a subtree hash is not 32 bytes');
    return CompactRange.of(size, hashes);
  }

  /** A copy that can be advanced independently. */
  clone(): CompactRange {
    const c = new CompactRange();
    this.slots.copy(c.slots, 0, 0, this.depth * HASH_SIZE);
    c.depth = this.depth;
    c.count = this.count;
    return c;
  }

  /** The state to save (with the cursor, in one atomic write). */
  toJSON(): CompactRangeState {
    return { size: this.count, hashes: Array.from({ length: this.depth }, (_, i) => this.slot(i).toString('base64')), root: this.root().toString('base64') };
  }

  /**
   * Rebuilds a saved range, checking everything: a size, one 32-byte hash per set bit, and a root that
   * matches the hashes. The root does not cover the size (another size with as many set bits would
   * pass), so a caller that saves the range with a cursor passes the cursor's position as `expectedSize`.
   * @param where names the state in errors ("cursor of <log>")
   * @param expectedSize the number of entries the saved cursor says were streamed
   * @throws CertstreamError STATE_ERR_CORRUPT
   */
  static fromJSON(state: unknown, where = 'compact range', expectedSize?: number): CompactRange {
    const bad = (why: string) => new CertstreamError('STATE_ERR_CORRUPT', `${where}: ${why}`);
    const o = state as Partial<Record<keyof CompactRangeState, unknown>> | null;
    if (typeof o !== 'object' || o === null || Array.isArray(o)) throw bad('not an object');
    const extra = Object.keys(o).filter((k) => k !== 'size' && k !== 'hashes' && k !== 'root');
    if (extra.length > 0) throw bad(`unknown field "${extra[0]}"`);
    const { size, hashes, root } = o;
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0 || size > MAX_RANGE_SIZE) throw bad(`bad size ${String(size)}`);
    if (expectedSize !== undefined && size !== expectedSize) throw bad(`size ${size}, but ${expectedSize} entries were streamed`);
    if (!Array.isArray(hashes) || hashes.length !== popCount(size)) {
      throw bad(`size ${size} needs ${popCount(size)} hashes, found ${Array.isArray(hashes) ? hashes.length : 'none'}`);
    }
    const b64 = /^[A-Za-z0-9+/]{43}=$/;
    const stack = hashes.map((h: unknown, i) => {
      if (typeof h !== 'string' || !b64.test(h)) throw bad(`hash ${i} is not 32 bytes of base64`);
      return Buffer.from(h, 'base64');
    });
    if (typeof root !== 'string' || !b64.test(root)) throw bad('root is not 32 bytes of base64');
    const c = CompactRange.of(size, stack);
    if (!c.root().equals(Buffer.from(root, 'base64'))) throw bad('the hashes do not give the saved root');
    return c;
  }
}
