/**
 * The evidence of a verification failure (pure): what an operator hands to the log's operator and the
 * browser programs. Two signed heads that conflict, or a signed head whose root is not the root of the
 * entries the log served, are proof that the log lied: the record keeps every head exactly as served
 * (the get-sth JSON or checkpoint text, whose signature anyone can check with the key), the computed root,
 * the sizes, the log's URL and key. Written as one JSON file per failure under `<state-dir>/evidence/`.
 */
import type { TreeHead } from './tree-head.js';

/** Directory of the evidence files, inside the state directory. */
export const EVIDENCE_DIR = 'evidence';

/** A signed head in an evidence file: its fields, and its body as served when we still have it. */
export interface EvidenceHead {
  tree_size: number;
  timestamp: number;
  /** base64 */
  root: string;
  /**
   * The get-sth body or checkpoint text exactly as served. A verified head's body is saved with the
   * cursor, so it survives a restart; null only when it was not kept (over 16 KiB, or a head verified
   * before a restart by a version that did not save it).
   */
  served: string | null;
}

/** One evidence file. */
export interface Evidence {
  log: string;
  name: string;
  kind: string;
  /** The log list `key` the heads were verified with (base64 SubjectPublicKeyInfo). */
  key: string;
  reason: 'signature' | 'root_mismatch' | 'inconsistent';
  /** The failure as one line. */
  error: string;
  /** ISO 8601 UTC. */
  detected_at: string;
  /** Entries hashed into our tree when the failure was found. */
  streamed_size: number;
  /** The last head whose root matched our computation, or null. */
  verified: EvidenceHead | null;
  /** The head that failed; null for a bad signature (its fields are unproven: see `served_head`). */
  head: EvidenceHead | null;
  /** signature: the head exactly as served, whose signature does not verify with `key`. */
  served_head?: string | null;
  /** inconsistent: the signed head it contradicts. */
  conflicts_with?: EvidenceHead;
  /** root_mismatch: the root of the first `head.tree_size` entries as the log served them (base64). */
  computed_root?: string;
}

/** A head for an evidence file. */
export function evidenceHead(head: TreeHead, served: string | undefined): EvidenceHead {
  return { tree_size: head.treeSize, timestamp: head.timestamp, root: Buffer.from(head.rootHash).toString('base64'), served: served ?? null };
}

/** The file name of an evidence record: time, reason and the log, safe for any file system. */
export function evidenceFileName(e: Evidence): string {
  const at = e.detected_at.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const log = e.log.replace(/^[a-z]+:\/\//i, '').replace(/[^A-Za-z0-9.]+/g, '_').replace(/^_+|_+$/g, '');
  return `${at}-${e.reason}-${log}.json`;
}
