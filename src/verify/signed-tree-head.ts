/**
 * RFC 6962 signed tree heads (pure): the get-sth JSON body (§4.3) and its `tree_head_signature`, a TLS
 * DigitallySigned over the TreeHeadSignature structure, verified with the log's key.
 */
import { CertstreamError } from '../errors.js';
import { parseDigitallySigned, verifyDigitallySigned } from './digitally-signed.js';
import type { LogKey } from './log-key.js';
import { HASH_SIZE } from './merkle-hash.js';
import { treeHeadSignatureInput, type TreeHead } from './tree-head.js';

/** A get-sth body, decoded; not verified yet. */
export interface SignedTreeHead extends TreeHead {
  /** The DigitallySigned bytes of `tree_head_signature`. */
  signature: Buffer;
}

const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Decodes a get-sth JSON body: every field present and well-formed.
 * @throws CertstreamError CT_ERR_BAD_RESPONSE
 */
export function parseSignedTreeHead(body: unknown): SignedTreeHead {
  const bad = (why: string) => new CertstreamError('CT_ERR_BAD_RESPONSE', `get-sth: ${why}`);
  const o = body as Record<string, unknown> | null;
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw bad('not a JSON object');
  const { tree_size: size, timestamp, sha256_root_hash: root, tree_head_signature: sig } = o;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw bad('tree_size missing or not an integer');
  if (typeof timestamp !== 'number' || !Number.isSafeInteger(timestamp) || timestamp < 0) throw bad('timestamp missing or not an integer');
  if (typeof root !== 'string' || !B64.test(root) || Buffer.from(root, 'base64').length !== HASH_SIZE) {
    throw bad('sha256_root_hash is not 32 bytes of base64');
  }
  if (typeof sig !== 'string' || sig === '' || !B64.test(sig)) throw bad('tree_head_signature is not base64');
  return { treeSize: size, timestamp, rootHash: Buffer.from(root, 'base64'), signature: Buffer.from(sig, 'base64') };
}

/**
 * Verifies a signed tree head with the log's key.
 * @param what names the head in the error ("get-sth of <log url>")
 * @returns the head (size, timestamp, root) once its signature is proven
 * @throws CertstreamError VERIFY_ERR_SIGNATURE
 */
export function verifySignedTreeHead(sth: SignedTreeHead, key: LogKey, what = 'get-sth'): TreeHead {
  const ds = parseDigitallySigned(sth.signature, what);
  verifyDigitallySigned(ds, treeHeadSignatureInput(sth), key, what);
  return { treeSize: sth.treeSize, timestamp: sth.timestamp, rootHash: sth.rootHash };
}
