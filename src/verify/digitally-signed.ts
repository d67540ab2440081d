/**
 * TLS `DigitallySigned` (RFC 5246 §4.7, as RFC 6962 uses it; pure): hash algorithm (1 byte, sha256 = 4),
 * signature algorithm (1 byte, rsa = 1, ecdsa = 3), a uint16 length, the signature. ECDSA signatures are
 * DER `Ecdsa-Sig-Value`s; RSA signatures are PKCS #1 v1.5.
 */
import { constants, verify } from 'node:crypto';
import { CertstreamError } from '../errors.js';
import type { LogKey } from './log-key.js';

/** TLS HashAlgorithm sha256. */
export const HASH_SHA256 = 4;
/** TLS SignatureAlgorithm values of the two key types CT allows. */
export const SIG_RSA = 1;
export const SIG_ECDSA = 3;

/** A decoded DigitallySigned. */
export interface DigitallySigned {
  hashAlgorithm: number;
  signatureAlgorithm: number;
  signature: Buffer;
}

/**
 * Decodes a DigitallySigned that must fill `bytes` exactly.
 * @param what names the signed object in the error
 * @throws CertstreamError VERIFY_ERR_SIGNATURE when truncated, empty or followed by other bytes
 */
export function parseDigitallySigned(bytes: Uint8Array, what = 'signature'): DigitallySigned {
  if (bytes.length < 4) throw new CertstreamError('VERIFY_ERR_SIGNATURE', `${what}: DigitallySigned of ${bytes.length} bytes`);
  const len = (bytes[2] << 8) | bytes[3];
  if (len === 0 || bytes.length !== 4 + len) {
    throw new CertstreamError('VERIFY_ERR_SIGNATURE', `${what}: DigitallySigned says ${len} signature bytes, has ${bytes.length - 4}`);
  }
  return { hashAlgorithm: bytes[0], signatureAlgorithm: bytes[1], signature: Buffer.from(bytes.subarray(4)) };
}

/** Encodes a DigitallySigned (for the fake log, which signs real heads). */
export function encodeDigitallySigned(ds: DigitallySigned): Buffer {
  const head = Buffer.from([ds.hashAlgorithm, ds.signatureAlgorithm, ds.signature.length >> 8, ds.signature.length & 0xff]);
  return Buffer.concat([head, ds.signature]);
}

/**
 * Checks that `ds` signs `data` with `key`: SHA-256, and the signature algorithm of the key's type.
 * @param what names the signed object in the error ("get-sth of <log>")
 * @throws CertstreamError VERIFY_ERR_SIGNATURE
 */
export function verifyDigitallySigned(ds: DigitallySigned, data: Uint8Array, key: LogKey, what: string): void {
  const fail = (why: string) => new CertstreamError('VERIFY_ERR_SIGNATURE', `${what}: ${why}`);
  if (ds.hashAlgorithm !== HASH_SHA256) throw fail(`hash algorithm ${ds.hashAlgorithm}, expected sha256 (4)`);
  const expected = key.algorithm === 'rsa' ? SIG_RSA : SIG_ECDSA;
  if (ds.signatureAlgorithm !== expected) {
    throw fail(`signature algorithm ${ds.signatureAlgorithm}, the log's ${key.algorithm} key needs ${expected}`);
  }
  let ok: boolean;
  try {
    ok =
      key.algorithm === 'rsa'
        ? verify('sha256', data, { key: key.publicKey, padding: constants.RSA_PKCS1_PADDING }, ds.signature)
        : verify('sha256', data, { key: key.publicKey, dsaEncoding: 'der' }, ds.signature);
  } catch {
    ok = false; // OpenSSL rejects a malformed signature encoding by throwing: it is just as invalid
  }
  if (!ok) throw fail(`signature does not verify with the log's key`);
}
