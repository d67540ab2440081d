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

/** One signature line of a signed note (C2SP signed-note): `— <key name> base64(key ID || signature)`. */
export interface NoteSignature {
  keyName: string;
  /** The 4-byte key ID (big-endian uint32 on the wire). */
  keyId: Buffer;
  /** The signature bytes after the key ID. */
  signature: Buffer;
}

/** Most signature lines read from one note (the spec asks verifiers to accept at least 16). */
export const MAX_NOTE_SIGNATURES = 100;

/**
 * Splits a signed note into its text (with its final newline) and its signature lines, without
 * verifying anything. The text ends at the last blank line; every line after it must be a well-formed
 * signature line (a malformed one rejects the note, as Go's note.Open does). parseCheckpoint, which
 * ignores the signature lines, is unchanged.
 * @throws CertstreamError CT_ERR_BAD_CHECKPOINT
 */
export function splitSignedNote(note: string): { text: string; signatures: NoteSignature[] } {
  const bad = (why: string) => new CertstreamError('CT_ERR_BAD_CHECKPOINT', `bad signed note: ${why}`);
  if (!note.endsWith('\n')) throw bad('does not end in a newline');
  const split = note.lastIndexOf('\n\n');
  if (split < 0) throw bad('no blank line before the signatures');
  const text = note.slice(0, split + 1);
  const lines = note.slice(split + 2, -1).split('\n');
  if (lines.length > MAX_NOTE_SIGNATURES) throw bad(`more than ${MAX_NOTE_SIGNATURES} signature lines`);
  const signatures = lines.map((line, i): NoteSignature => {
    const m = /^\u2014 ([^\s+]+) ([A-Za-z0-9+/]+={0,2})$/u.exec(line);
    if (!m || m[2].length % 4 !== 0) throw bad(`signature line ${i + 1} is malformed`);
    const bytes = Buffer.from(m[2], 'base64');
    if (bytes.length < 5) throw bad(`signature line ${i + 1} is too short`);
    return { keyName: m[1], keyId: bytes.subarray(0, 4), signature: bytes.subarray(4) };
  });
  return { text, signatures };
}
