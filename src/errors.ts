/**
 * One error class for the whole project. Callers branch on `code`, never on message text
 * (style.md habit 3). Wrap with context when re-throwing:
 *   throw new CertstreamError('CT_ERR_HTTP', `get-entries 1000-1031 of ${url}: HTTP 503`, { cause: err })
 */
export type ErrorCode =
  // configuration (exit 78)
  | 'CONFIG_ERR_INVALID'
  | 'CONFIG_ERR_LOG_LIST'
  // CT log access
  | 'CT_ERR_HTTP'
  | 'CT_ERR_RATE_LIMITED'
  | 'CT_ERR_TIMEOUT'
  | 'CT_ERR_BAD_RESPONSE'
  | 'CT_ERR_BAD_LEAF'
  | 'CT_ERR_BAD_TILE'
  | 'CT_ERR_BAD_CHECKPOINT'
  | 'CT_ERR_ORIGIN_MISMATCH'
  | 'CT_ERR_TREE_SHRANK'
  | 'CT_ERR_ISSUER_MISMATCH'
  | 'CT_ERR_BODY_TOO_LARGE'
  | 'CT_ERR_ABORTED'
  | 'CT_ERR_TOO_LARGE'
  | 'CT_ERR_CURSOR_AHEAD'
  | 'CT_ERR_IMPLAUSIBLE_HEAD'
  // verified logs (src/verify/): the reasons a log stops at its last verified size
  | 'VERIFY_ERR_KEY'
  | 'VERIFY_ERR_SIGNATURE'
  | 'VERIFY_ERR_ROOT_MISMATCH'
  | 'VERIFY_ERR_INCONSISTENT'
  // certificate rendering
  | 'X509_ERR_BAD_DER'
  | 'X509_ERR_NOT_A_CERT'
  | 'RENDER_ERR_TOO_LARGE'
  // state
  | 'STATE_ERR_IO'
  | 'STATE_ERR_CORRUPT'
  | 'STATE_ERR_LOCKED'
  // audit
  | 'AUDIT_ERR_USAGE'
  | 'AUDIT_ERR_FEED_UNREACHABLE'
  | 'AUDIT_ERR_BAD_RECORDING'
  // certstream-watch
  | 'WATCH_ERR_USAGE'
  | 'WATCH_ERR_CONFIG'
  | 'WATCH_ERR_DB'
  | 'WATCH_ERR_DB_UNAVAILABLE'
  // the client library
  | 'CLIENT_ERR_USAGE'
  // NATS JetStream (scale-out)
  | 'NATS_ERR_UNAVAILABLE'
  | 'NATS_ERR_STREAM'
  // the fan-out wired wrongly (a programming error, not a client's)
  | 'STREAM_ERR_WIRING';

export class CertstreamError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CertstreamError';
    this.code = code;
  }
}

/** True when `err` is a CertstreamError with one of the given codes (or any code when none given). */
export function isCertstreamError(err: unknown, ...codes: ErrorCode[]): err is CertstreamError {
  return err instanceof CertstreamError && (codes.length === 0 || codes.includes(err.code));
}

/** A short one-line description of any thrown value, for logs and `last_error`. */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? err.cause.message : '';
  return cause && !err.message.includes(cause) ? `${err.message}: ${cause}` : err.message;
}
