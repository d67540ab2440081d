/**
 * `--tls-cert` / `--tls-key`: the PEM pair of the listener. Loaded (and checked to match) at start, where
 * a failure is a configuration error (exit 78), and again on SIGHUP, where it is one log line and the
 * old pair stays. A chain in the certificate file is served as it is.
 */
import { readFileSync } from 'node:fs';
import { createSecureContext, type Server } from 'node:tls';
import { CertstreamError, describeError } from '../errors.js';
import type { Logger } from '../log/logger.js';

export interface TlsPair {
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** Reads and checks the pair; throws CONFIG_ERR_INVALID naming the file and the problem. */
export function loadTlsPair(certFile: string, keyFile: string): TlsPair {
  const read = (flag: string, file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new CertstreamError('CONFIG_ERR_INVALID', `--${flag} ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? describeError(err)})`, { cause: err });
    }
  };
  const pair = { cert: read('tls-cert', certFile), key: read('tls-key', keyFile) };
  try {
    // Throws for a file that is not PEM, a key that does not decode, and a key that is not the certificate's.
    createSecureContext(pair);
  } catch (err) {
    throw new CertstreamError('CONFIG_ERR_INVALID', `--tls-cert ${certFile} --tls-key ${keyFile}: not a usable certificate and key (${describeError(err)})`, { cause: err });
  }
  return pair;
}

/**
 * SIGHUP: loads the pair again and gives it to new handshakes (open connections keep theirs). A pair
 * that does not load is one log line; the old pair stays.
 */
export function reloadTlsPair(server: Server, certFile: string, keyFile: string, logger: Logger): void {
  try {
    server.setSecureContext(loadTlsPair(certFile, keyFile));
    logger.info('TLS certificate reloaded', { cert: certFile, key: keyFile });
  } catch (err) {
    logger.error('TLS certificate not reloaded: the previous certificate stays in use', { error: describeError(err) });
  }
}
