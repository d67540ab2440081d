/**
 * Leaf hashes of CT entries (pure), the values the log's Merkle tree is built from (RFC 6962 §3.4):
 *   MerkleTreeLeaf = version v1 (0x00) || leaf_type timestamped_entry (0x00) || TimestampedEntry
 *   leaf hash      = SHA-256(0x00 || MerkleTreeLeaf)
 * RFC 6962 logs serve the MerkleTreeLeaf itself (get-entries `leaf_input`). static-ct-api data tiles
 * start each TileLeaf with the TimestampedEntry (its bytes, unchanged), so the leaf is rebuilt by putting
 * the two header bytes in front: the result must equal the log's level-0 hash tile. Either way the bytes
 * hashed are the bytes as served, never a re-serialisation.
 */
import { parseTileLeavesWithSpans } from '../ct/tile-leaf.js';
import { hashLeaf, sha256ZeroPrefixed } from './merkle-hash.js';

/** The leaf hash of an RFC 6962 entry from its `leaf_input` bytes (already a MerkleTreeLeaf). */
export function rfc6962LeafHash(leafInput: Uint8Array): Buffer {
  return hashLeaf(leafInput);
}

/** The leaf hash of an entry from its TimestampedEntry bytes (a TileLeaf's first fields). */
export function timestampedEntryLeafHash(timestampedEntry: Uint8Array): Buffer {
  // The leaf prefix 0x00, then MerkleTreeLeaf version v1 (0x00) and leaf_type timestamped_entry (0x00).
  return sha256ZeroPrefixed(3, timestampedEntry);
}

/**
 * The leaf hash of every entry of a data tile body, in order.
 * @param firstIndex the log index of the tile's first entry (checked against each leaf_index) when given
 * @throws CertstreamError CT_ERR_BAD_TILE as parseTileLeaves
 */
export function tileLeafHashes(tile: Uint8Array, firstIndex?: number): Buffer[] {
  const { spans } = parseTileLeavesWithSpans(tile, firstIndex);
  return spans.map((s) => timestampedEntryLeafHash(tile.subarray(s.start, s.end)));
}
