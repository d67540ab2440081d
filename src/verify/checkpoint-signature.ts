/**
 * static-ct-api checkpoint signatures (pure). A checkpoint is a signed note whose log signature is the
 * RFC 6962 note signature (C2SP signed-note type 0x05, defined by c2sp.org/static-ct-api):
 *   key name  = the checkpoint's origin line
 *   key ID    = SHA-256(key name || 0x0A || 0x05 || LogID)[:4], LogID = SHA-256(SPKI DER), 32 bytes
 *   signature = uint64 timestamp || DigitallySigned over TreeHeadSignature(timestamp, size, root)
 * It signs the tree head, not the note text, so the origin is unauthenticated and the text must hold
 * nothing else (no extension lines). Lines by other keys (witness cosignatures, other key types of the
 * log) are ignored; every line by the log's key must verify, and at least one must exist.
 */
import { hash } from 'node:crypto';
import { parseCheckpoint, splitSignedNote, type Checkpoint } from '../ct/checkpoint.js';
import { CertstreamError } from '../errors.js';
import { parseDigitallySigned, verifyDigitallySigned } from './digitally-signed.js';
import type { LogKey } from './log-key.js';
import { treeHeadSignatureInput, type TreeHead } from './tree-head.js';

/** Signature type identifier byte of RFC 6962 note signatures (C2SP signed-note). */
export const RFC6962_NOTE_SIGNATURE_TYPE = 0x05;

/** A checkpoint whose log signature verified: origin, size, root, and the signed timestamp. */
export interface VerifiedCheckpoint extends Checkpoint, TreeHead {}

/** The 4-byte key ID of a log's RFC 6962 note signature under `keyName` (the origin). */
export function rfc6962NoteKeyId(keyName: string, logId: Uint8Array): Buffer {
  const data = Buffer.concat([Buffer.from(`${keyName}\n`, 'utf8'), Buffer.from([RFC6962_NOTE_SIGNATURE_TYPE]), logId]);
  return hash('sha256', data, 'buffer').subarray(0, 4);
}

/**
 * Verifies a checkpoint body with the log's key.
 * @param origin the origin the log must use (expectedOrigin of its submission URL); it is also the key name
 * @param where the checkpoint's URL, for error messages
 * @throws CertstreamError CT_ERR_BAD_CHECKPOINT (malformed), CT_ERR_ORIGIN_MISMATCH, VERIFY_ERR_SIGNATURE
 *   (no line by the log's key, a malformed or failing one)
 */
export function verifyCheckpoint(note: string, key: LogKey, origin: string, where = 'checkpoint'): VerifiedCheckpoint {
  const { text, signatures } = splitSignedNote(note);
  const cp = parseCheckpoint(text);
  if (cp.origin !== origin) throw new CertstreamError('CT_ERR_ORIGIN_MISMATCH', `${where}: origin "${cp.origin}", expected "${origin}"`);
  if (text.split('\n').length !== 4) throw new CertstreamError('CT_ERR_BAD_CHECKPOINT', `${where}: extension lines in an RFC 6962-signed checkpoint`);
  const keyId = rfc6962NoteKeyId(origin, key.logId);
  const mine = signatures.filter((s) => s.keyName === origin && s.keyId.equals(keyId));
  if (mine.length === 0) {
    throw new CertstreamError('VERIFY_ERR_SIGNATURE', `${where}: no signature by the log's key (${origin} ${keyId.toString('hex')})`);
  }
  let timestamp = -1;
  for (const s of mine) {
    if (s.signature.length < 8 + 4) throw new CertstreamError('VERIFY_ERR_SIGNATURE', `${where}: RFC 6962 note signature of ${s.signature.length} bytes`);
    const t = Number(s.signature.readBigUInt64BE(0));
    if (!Number.isSafeInteger(t)) throw new CertstreamError('VERIFY_ERR_SIGNATURE', `${where}: timestamp out of range`);
    const head: TreeHead = { treeSize: cp.treeSize, timestamp: t, rootHash: cp.rootHash };
    verifyDigitallySigned(parseDigitallySigned(s.signature.subarray(8), where), treeHeadSignatureInput(head), key, where);
    if (timestamp < 0) timestamp = t;
  }
  return { ...cp, timestamp };
}
