/**
 * A log's head as served (the get-sth JSON or the checkpoint text), read and verified the same way
 * wherever heads are read: by the followers and by certaudit's `ct` feed (pure).
 */
import { CertstreamError } from '../errors.js';
import { verifyCheckpoint } from '../verify/checkpoint-signature.js';
import type { LogKey } from '../verify/log-key.js';
import { parseSignedTreeHead, verifySignedTreeHead } from '../verify/signed-tree-head.js';
import type { TreeHead } from '../verify/tree-head.js';
import { expectedOrigin, parseLogCheckpoint } from './checkpoint.js';
import { checkTreeSize } from './tree-size.js';
import type { LogDescriptor } from './types.js';

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

/** Where a log's head is read. */
export function headUrl(log: LogDescriptor): string {
  return log.kind === 'rfc6962' ? `${log.monitoringUrl}ct/v1/get-sth` : `${log.monitoringUrl}checkpoint`;
}

/** The tree size of a served head, unverified. @throws CertstreamError CT_ERR_* when malformed */
export function servedHeadSize(log: LogDescriptor, served: string): number {
  if (log.kind === 'rfc6962') return parseSth(parseJson(served, `get-sth of ${log.url}`)).treeSize;
  return parseLogCheckpoint(served, log.submissionUrl, headUrl(log)).treeSize;
}

/**
 * Verifies a served head's signature with the log's key.
 * @throws CertstreamError VERIFY_ERR_SIGNATURE, or CT_ERR_* when malformed
 */
export function verifyServedHead(log: LogDescriptor, served: string, key: LogKey): TreeHead {
  const where = headUrl(log);
  if (log.kind === 'rfc6962') return verifySignedTreeHead(parseSignedTreeHead(parseJson(served, `get-sth of ${log.url}`)), key, where);
  if (log.submissionUrl === undefined) throw new CertstreamError('CT_ERR_BAD_CHECKPOINT', `${where}: the log list names no submission_url (the origin)`);
  return verifyCheckpoint(served, key, expectedOrigin(log.submissionUrl), where);
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CertstreamError('CT_ERR_BAD_RESPONSE', `${what}: body is not JSON`, { cause: err });
  }
}
