/**
 * static-ct-api checkpoints (C2SP tlog-checkpoint), pure. The body is a signed note:
 *   <origin>\n<tree size>\n<base64 root hash>\n[extension lines]\n\n<signature lines>
 * Signatures are not verified here (the note lines are ignored), so a checkpoint is only trusted as far
 * as its origin and size checks go.
 */
import { CertstreamError } from '../errors.js';

/** The parsed text of a checkpoint. */
export interface Checkpoint {
  origin: string;
  treeSize: number;
  /** 32-byte SHA-256 root hash. */
  rootHash: Uint8Array;
}

/** Parses a checkpoint body; throws CertstreamError CT_ERR_BAD_CHECKPOINT. */
export function parseCheckpoint(text: string): Checkpoint {
  const bad = (why: string) => new CertstreamError('CT_ERR_BAD_CHECKPOINT', `bad checkpoint: ${why}`);
  const blank = text.indexOf('\n\n');
  const body = blank >= 0 ? text.slice(0, blank) : text;
  const lines = body.split('\n');
  if (lines.length < 3) throw bad('fewer than 3 lines');
  const [origin, size, hash] = lines;
  if (origin === '' || /\s/.test(origin.trim()) || origin.trim() !== origin) throw bad('empty or malformed origin');
  if (!/^(0|[1-9]\d*)$/.test(size)) throw bad(`tree size "${size.slice(0, 40)}" is not a decimal`);
  const treeSize = Number(size);
  if (!Number.isSafeInteger(treeSize)) throw bad('tree size too large');
  if (!/^[A-Za-z0-9+/]{43}=$/.test(hash)) throw bad('root hash is not 32 bytes of base64');
  return { origin, treeSize, rootHash: Buffer.from(hash, 'base64') };
}

/** The origin a static log's checkpoint must carry: its submission URL without scheme and trailing `/`. */
export function expectedOrigin(submissionUrl: string): string {
  return submissionUrl.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').replace(/\/+$/, '');
}

/**
 * Parses a static log's checkpoint and checks that it is this log's: its origin must be the log's
 * submission URL without scheme and trailing `/` (a mirror or a misconfigured list would otherwise feed
 * another log's tree size). No submission URL: no origin check. Shared by the follower and certaudit.
 * @param where the checkpoint's URL, for the error message
 * @throws CertstreamError CT_ERR_BAD_CHECKPOINT, CT_ERR_ORIGIN_MISMATCH
 */
export function parseLogCheckpoint(text: string, submissionUrl: string | undefined, where: string): Checkpoint {
  const cp = parseCheckpoint(text);
  const origin = submissionUrl === undefined ? undefined : expectedOrigin(submissionUrl);
  if (origin !== undefined && cp.origin !== origin) {
    throw new CertstreamError('CT_ERR_ORIGIN_MISMATCH', `${where}: origin "${cp.origin}", expected "${origin}"`);
  }
  return cp;
}
