/**
 * A CT log's public key from the log list (pure): `key` is a base64 DER SubjectPublicKeyInfo, and the
 * log's ID is SHA-256 of those DER bytes (RFC 6962 §3.2). RFC 6962 allows ECDSA P-256 and RSA (2048
 * bits or more), both with SHA-256; anything else cannot verify a head, so the log is unverifiable.
 */
import { createPublicKey, hash, type KeyObject } from 'node:crypto';
import { CertstreamError } from '../errors.js';

/** The signature algorithms a CT log key can have. */
export type LogKeyAlgorithm = 'ecdsa-p256' | 'rsa';

/** A parsed, usable log key. */
export interface LogKey {
  /** The SubjectPublicKeyInfo DER, as listed. */
  spki: Buffer;
  /** RFC 6962 LogID: SHA-256 of `spki` (32 bytes). */
  logId: Buffer;
  algorithm: LogKeyAlgorithm;
  publicKey: KeyObject;
}

/** RFC 6962 LogID of a key: SHA-256 of its SubjectPublicKeyInfo DER. */
export function logIdOf(spki: Uint8Array): Buffer {
  return hash('sha256', spki, 'buffer');
}

/**
 * Parses a log list `key`.
 * @param expectedLogId the list's `log_id` (base64); when given it must be the key's SHA-256
 * @throws CertstreamError VERIFY_ERR_KEY when the key is missing, not a SubjectPublicKeyInfo, of another
 *   algorithm or curve, RSA below 2048 bits, or not the one `expectedLogId` names
 */
export function parseLogKey(keyBase64: unknown, expectedLogId?: string): LogKey {
  const bad = (why: string, cause?: unknown) => new CertstreamError('VERIFY_ERR_KEY', `log key: ${why}`, { cause });
  if (typeof keyBase64 !== 'string' || keyBase64 === '') throw bad('missing');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(keyBase64) || keyBase64.length % 4 !== 0) throw bad('not base64');
  const spki = Buffer.from(keyBase64, 'base64');
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  } catch (err) {
    throw bad('not a DER SubjectPublicKeyInfo', err);
  }
  // OpenSSL ignores bytes after the SEQUENCE and some non-canonical fields (a BIT STRING's unused-bits
  // count), but the log ID hashes the listed bytes: they must be exactly the key's DER. All 303 keys of
  // the two Google lists in test/fixtures are.
  if (!publicKey.export({ format: 'der', type: 'spki' }).equals(spki)) throw bad('not the canonical DER of its key');
  let algorithm: LogKeyAlgorithm;
  const details = publicKey.asymmetricKeyDetails ?? {};
  if (publicKey.asymmetricKeyType === 'ec' && details.namedCurve === 'prime256v1') algorithm = 'ecdsa-p256';
  else if (publicKey.asymmetricKeyType === 'rsa' && (details.modulusLength ?? 0) >= 2048) algorithm = 'rsa';
  else throw bad(`unsupported ${publicKey.asymmetricKeyType ?? 'unknown'} key ${details.namedCurve ?? details.modulusLength ?? ''}`.trim());
  const logId = logIdOf(spki);
  if (expectedLogId !== undefined && logId.toString('base64') !== expectedLogId) {
    throw bad(`log_id ${expectedLogId} is not the SHA-256 of the key (${logId.toString('base64')})`);
  }
  return { spki, logId, algorithm, publicKey };
}

