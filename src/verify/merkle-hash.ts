/**
 * The hash functions of RFC 6962 §2.1 (pure): SHA-256 with domain separation, 0x00 before a leaf and
 * 0x01 before two child hashes, so that a leaf can never be passed off as an interior node. The hash of
 * an empty tree is SHA-256 of nothing.
 */
import { hash } from 'node:crypto';

/** Bytes in a Merkle tree hash (SHA-256). */
export const HASH_SIZE = 32;

/** MTH({}) = SHA-256() (RFC 6962 §2.1). */
export const EMPTY_ROOT: Buffer = hash('sha256', Buffer.alloc(0), 'buffer');

const LEAF_PREFIX = Buffer.from([0x00]);

/** MTH({d}) = SHA-256(0x00 || d): the hash of one leaf's bytes. */
export function hashLeaf(leaf: Uint8Array): Buffer {
  return hash('sha256', Buffer.concat([LEAF_PREFIX, leaf]), 'buffer');
}

// One scratch buffer: node hashes run millions of times per catch-up and are synchronous.
const node = Buffer.alloc(1 + 2 * HASH_SIZE);
node[0] = 0x01;

/** SHA-256(0x01 || left || right): the hash of an interior node from its two children. */
export function hashChildren(left: Uint8Array, right: Uint8Array): Buffer {
  node.set(left, 1);
  node.set(right, 1 + HASH_SIZE);
  return hash('sha256', node, 'buffer');
}
