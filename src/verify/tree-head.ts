/**
 * A tree head and the bytes its signature covers (pure). RFC 6962 §3.5:
 *   struct { Version version (v1 = 0); SignatureType signature_type (tree_hash = 1);
 *            uint64 timestamp; uint64 tree_size; opaque sha256_root_hash[32]; } TreeHeadSignature
 * The same structure is signed in a static-ct-api checkpoint's RFC 6962 note signature.
 */
import { HASH_SIZE } from './merkle-hash.js';

/** The content of a signed tree head. */
export interface TreeHead {
  treeSize: number;
  /** ms since the epoch, as signed. */
  timestamp: number;
  /** 32-byte SHA-256 Merkle tree hash. */
  rootHash: Uint8Array;
}

/** The 50 bytes of the TreeHeadSignature structure for `head`. */
export function treeHeadSignatureInput(head: TreeHead): Buffer {
  if (!Number.isSafeInteger(head.treeSize) || head.treeSize < 0) throw new RangeError(`tree size ${head.treeSize}`);
  if (!Number.isSafeInteger(head.timestamp) || head.timestamp < 0) throw new RangeError(`timestamp ${head.timestamp}`);
  if (head.rootHash.length !== HASH_SIZE) throw new RangeError(`root hash of ${head.rootHash.length} bytes`);
  const out = Buffer.alloc(2 + 8 + 8 + HASH_SIZE);
  out[0] = 0; // v1
  out[1] = 1; // tree_hash
  out.writeBigUInt64BE(BigInt(head.timestamp), 2);
  out.writeBigUInt64BE(BigInt(head.treeSize), 10);
  out.set(head.rootHash, 18);
  return out;
}
