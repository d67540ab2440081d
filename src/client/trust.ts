/**
 * Which certificate authorities a client trusts for `wss://` and `https://`: the system's, plus a CA of
 * one's own (`--ca FILE`: a server with a private CA or a self-signed certificate). NODE_EXTRA_CA_CERTS
 * works as in any Node program when no `--ca` is given.
 */
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { CertstreamError, type ErrorCode } from '../errors.js';

/** PEM certificate(s), as tls/ws/undici take them. */
export type CaCertificates = string | Buffer | readonly (string | Buffer)[];

/** The system's roots plus `extra`; undefined without extra (Node's defaults, NODE_EXTRA_CA_CERTS included). */
export function trustedCas(extra: CaCertificates | undefined): (string | Buffer)[] | undefined {
  if (extra === undefined) return undefined;
  return [...rootCertificates, ...(Array.isArray(extra) ? extra : [extra as string | Buffer])];
}

/**
 * Reads a `--ca` file (PEM). Throws CertstreamError `code` (the command's usage code) when it cannot be
 * read or holds no certificate.
 */
export function readCaFile(path: string, code: ErrorCode): Buffer {
  let pem: Buffer;
  try {
    pem = readFileSync(path);
  } catch (err) {
    throw new CertstreamError(code, `--ca ${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err });
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new CertstreamError(code, `--ca ${path}: holds no PEM certificate`);
  return pem;
}
