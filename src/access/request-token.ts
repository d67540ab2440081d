/**
 * Where a request carries its token, pure: `Authorization: Bearer TOKEN`, or `?token=TOKEN` for clients
 * that cannot set headers (certstream-python, the Go client, browsers' WebSocket). And the one masking
 * of `?token=` values for anything that logs a request's URL.
 */
import type { IncomingHttpHeaders } from 'node:http';

/** The token a request presents, or undefined; a header wins over the query. */
export function presentedToken(url: string | undefined, headers: IncomingHttpHeaders): string | undefined {
  const auth = headers.authorization;
  const bearer = auth === undefined ? undefined : /^Bearer\s+(\S+)\s*$/i.exec(auth)?.[1];
  if (bearer !== undefined) return bearer;
  const q = (url ?? '').indexOf('?');
  if (q < 0) return undefined;
  const token = new URLSearchParams((url ?? '').slice(q + 1).replace(/#.*$/, '')).get('token');
  return token === null || token === '' ? undefined : token;
}

/** `url` with every `token=` query value replaced by `***` (for logs: a token never reaches them). */
export function maskToken(url: string | undefined): string | undefined {
  return url?.replace(/([?&]token=)[^&#]*/gi, '$1***');
}
