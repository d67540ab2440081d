/**
 * The exit code of a match store that cannot be opened, from the error's code alone (style.md habit 3):
 * 69 (EX_UNAVAILABLE) when PostgreSQL cannot be reached or refuses — it may come back, so systemd
 * retries — and 78 (EX_CONFIG) for the rest: a SQLite path or permission problem, a schema written by a
 * newer certstream-watch. Shared by `run` and `export`.
 */
import { isCertstreamError } from '../../errors.js';

/** The exit code for a failed `openStore`, or undefined when `err` is not a store error (a bug: rethrow it). */
export function storeExitCode(err: unknown): number | undefined {
  if (isCertstreamError(err, 'WATCH_ERR_DB_UNAVAILABLE')) return 69;
  if (isCertstreamError(err, 'WATCH_ERR_DB')) return 78;
  return undefined;
}
