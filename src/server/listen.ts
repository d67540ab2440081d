/**
 * Binding the listener: a failure the operator can fix (port taken, address not on this machine, name
 * that does not resolve, port needing privileges) becomes a configuration error (exit 78, one line); a
 * transient one (EAI_AGAIN: DNS not ready yet) stays a runtime error that systemd retries.
 */
import type { Server } from 'node:http';
import { CertstreamError } from '../errors.js';

const FIXABLE = new Map([
  ['EADDRINUSE', 'the port is already in use (another certstream-server?)'],
  ['EACCES', 'binding that port needs privileges (use a port >= 1024)'],
  ['EADDRNOTAVAIL', 'the address is not one of this machine'],
  ['ENOTFOUND', 'the host name does not resolve'],
]);

/** Binds `server`; rejects with CONFIG_ERR_INVALID for a fixable failure, else with the error itself. */
export function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const failed = (err: Error) => reject(listenError(err, host, port));
    server.once('error', failed);
    server.listen(port, host, () => {
      server.off('error', failed);
      resolve();
    });
  });
}

function listenError(err: unknown, host: string, port: number): unknown {
  const code = (err as { code?: unknown }).code;
  const reason = typeof code === 'string' ? FIXABLE.get(code) : undefined;
  if (!reason) return err;
  return new CertstreamError('CONFIG_ERR_INVALID', `--host ${host} --port ${port}: cannot listen: ${reason} (${code})`, { cause: err });
}

/** `http://host:port` (`https://` with TLS) for logs and tests (127.0.0.1 when bound to every address). */
export function shownUrl(host: string, port: number, secure = false): string {
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return `${secure ? 'https' : 'http'}://${shown.includes(':') ? `[${shown}]` : shown}:${port}`;
}
