/**
 * The shapes that flow from the CT followers to the renderer and the fan-out hub.
 * Data flows one way: log list → followers (rfc6962, static) → decoded CtEntry → render → hub.
 */

/** Which protocol a log speaks. Also the `kind` of `/healthz` logs. */
export type LogKind = 'rfc6962' | 'static';

/** The `kind` label of certstream_log_errors_total: what went wrong while following a log. */
export const LOG_ERROR_KINDS = ['http', 'rate_limited', 'parse', 'timeout'] as const;
export type LogErrorKind = (typeof LOG_ERROR_KINDS)[number];
/** The update types of certstream frames (certstream_entries_total's `update_type`). */
export const UPDATE_TYPES = ['X509LogEntry', 'PrecertLogEntry'] as const;

/** One followed log, as selected from the v3 log list. */
export interface LogDescriptor {
  readonly kind: LogKind;
  /**
   * The log's identity in frames (`data.source.url`), cursors, metrics (`log` label) and `/healthz`:
   * for RFC 6962 logs the list's `url` verbatim (scheme and trailing slash included);
   * for static-ct-api logs the list's `monitoring_url` verbatim (that is where its data is read from).
   */
  readonly url: string;
  /** `description` from the log list; `data.source.name` in frames. */
  readonly name: string;
  readonly operator: string;
  /** base64 log ID from the list. */
  readonly logId: string;
  /** Base of the read API, always ending in `/`: RFC 6962 `url`; static `monitoring_url`. */
  readonly monitoringUrl: string;
  /** static-ct-api only: `submission_url` (the checkpoint origin is this without scheme and trailing `/`). */
  readonly submissionUrl?: string;
  /** For a `readonly` log: its `final_tree_head.tree_size`; the log is followed until this is streamed. */
  readonly finalTreeSize?: number;
  /** Log list state: usable | qualified | readonly. */
  readonly state: string;
  /** The list's `key` (base64 DER SubjectPublicKeyInfo), when listed: heads are verified with it. */
  readonly key?: string;
}

/** One decoded log entry, independent of the protocol it came from. */
export interface CtEntry {
  /** 0-based leaf index in its log (`cert_index`). */
  readonly index: number;
  /** CT timestamp (SCT time), milliseconds since the epoch. */
  readonly timestamp: number;
  /** MerkleTreeLeaf entry_type: x509_entry (0) or precert_entry (1). */
  readonly type: 'x509' | 'precert';
  /** DER of the leaf certificate; for precerts, the full pre_certificate (not the TBS). */
  readonly leaf: Uint8Array;
  /** DER of the chain certificates, issuer first, as submitted. */
  readonly chain: readonly Uint8Array[];
}

/** An entry the follower could not decode, in its place: the sink skips and counts it (one policy). */
export interface UndecodableEntry {
  readonly index: number;
  readonly error: unknown;
}

/** What a follower hands on per index: the decoded entry, or why it could not be decoded. */
export type SinkEntry = CtEntry | UndecodableEntry;

/**
 * Where a follower hands its entries: consecutive entries of one log, in strictly increasing index
 * order, the first being the log's current next index. Synchronous: when it returns, the entries count
 * as streamed and the log's cursor advances past them.
 */
export type EntrySink = (log: LogDescriptor, entries: readonly SinkEntry[]) => void;

/** Per-log state shown by `/healthz` (keys as in interface.md) and used for health and lag decisions. */
export interface LogStatus {
  url: string;
  name: string;
  kind: LogKind;
  /** Last known head (STH tree_size / checkpoint size); null before the first successful poll. */
  tree_size: number | null;
  /** Next entry to stream. */
  next_index: number;
  /** tree_size − next_index (0 when tree_size is unknown). */
  lag: number;
  /** Epoch seconds of the last successful poll of the head, or null. */
  last_success: number | null;
  /** Last error as one line, or null once a poll succeeded after it. */
  last_error: string | null;
  /** Largest tree size whose signed root matched our computation, or null. */
  verified_size: number | null;
  /** Whether the log is verified (interface.md "Verified logs"). */
  verification: VerificationState;
}

/** `/healthz` `verification` of a log. */
export type VerificationState = 'ok' | 'pending' | 'failed' | 'unverifiable' | 'off';

/** The `reason` label of certstream_log_verification_failures_total. */
export const VERIFICATION_FAILURE_REASONS = ['signature', 'root_mismatch', 'inconsistent'] as const;
export type VerificationFailureReason = (typeof VERIFICATION_FAILURE_REASONS)[number];
