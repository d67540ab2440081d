/**
 * Per-log cursors (the next index to stream), kept in one JSON file in the state directory:
 *   {"version":1,"logs":{"<log url>":<next_index> | {"next":<next_index>,"verifier":{...}}, ...}}
 * A verified log's value carries its verification state (log-verification.ts: the compact range of the
 * entries streamed, the last verified head, a failure), written in the same atomic write as its cursor;
 * a bare index (a file from before verification, or a log not verified) still loads.
 * Written atomically (temp file, fsync, rename, fsync of the directory) at most every `flushMs` while
 * something changed, and on close. A file that exists but cannot be read or parsed stops the start with
 * STATE_ERR_CORRUPT: starting over silently would lose or repeat entries.
 */
import { CertstreamError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { FlushFailures, type FlushHealth } from '../state/flush-failures.js';
import { SavedMap } from '../state/saved-map.js';
import { parseStateFile, StateFile } from '../state/state-file.js';

/** File name of the cursor file inside the state directory. */
export const CURSOR_FILE = 'cursors.json';
const CURSOR_FILE_KIND = { kind: 'cursor', field: 'logs' };

/** Settings of a CursorStore. */
export interface CursorStoreOptions {
  /** Directory holding the cursor file; created when missing. */
  stateDir: string;
  /** Flush period in ms while dirty (default 1000). */
  flushMs?: number;
  /** Called when a periodic flush fails (the next flush retries). */
  onFlushError?: (err: unknown) => void;
  /** Runs before every write: the replay window's fsync, so that it is never behind the cursors. */
  beforeWrite?: () => Promise<void>;
  /** Counts every failed write (certstream_cursor_flush_errors_total). */
  flushErrors?: { inc(): void };
  /** Failed writes are logged here, at most once a minute while they go on; the recovery once. */
  logger?: Logger;
}

/** Whether the cursor file is being saved (for /healthz). */
export type CursorFlushHealth = FlushHealth;

/** A log's saved value: its next index and, for a verified log, its verification state (checked by its reader). */
export interface CursorValue {
  next: number;
  verifier?: unknown;
}

/**
 * One log's saved value as parsed JSON: a bare next index (saved before verification, or for a log not
 * verified) or `{next, verifier}`; undefined when it is neither. Pure; the file and the NATS key-value
 * bucket (nats/kv-cursor-store.ts) save the same values.
 */
export function cursorValue(v: unknown): CursorValue | undefined {
  const o = typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  const next = o ? o.next : v;
  if (typeof next !== 'number' || !Number.isSafeInteger(next) || next < 0) return undefined;
  return o?.verifier === undefined ? { next } : { next, verifier: o.verifier };
}

/** The JSON of a log's saved value: a bare index when there is no verification state. */
export function savedCursorValue(v: CursorValue): number | CursorValue {
  return v.verifier === undefined ? v.next : v;
}

/** Parses the cursor file body into each log's value; throws STATE_ERR_CORRUPT. Pure. */
export function parseCursorValues(text: string, path = CURSOR_FILE): Map<string, CursorValue> {
  const out = new Map<string, CursorValue>();
  for (const [url, v] of Object.entries(parseStateFile(text, CURSOR_FILE_KIND, path))) {
    const value = cursorValue(v);
    if (value === undefined) throw new CertstreamError('STATE_ERR_CORRUPT', `cursor file ${path}: bad index for ${url}`);
    out.set(url, value);
  }
  return out;
}

/** Parses the cursor file body into each log's next index; throws STATE_ERR_CORRUPT. Pure, for tests and tools. */
export function parseCursorFile(text: string, path = CURSOR_FILE): Map<string, number> {
  return new Map([...parseCursorValues(text, path)].map(([url, v]) => [url, v.next]));
}

/**
 * What the ingest needs of a cursor store: the file here, or a JetStream key-value bucket shared by
 * every ingest node (nats/kv-cursor-store.ts).
 */
export interface Cursors {
  /** Where the cursors are kept, for log lines. */
  readonly path: string;
  load(options?: { ignoreSaved?: boolean }): Promise<void>;
  get(url: string): number | undefined;
  /** Records a log's next index, and its verification state when given (saved together, atomically). */
  set(url: string, nextIndex: number, verifier?: object): void;
  /** The verification state saved with a log's cursor (unchecked: LogVerification checks it). */
  verifier(url: string): unknown;
  flush(): Promise<void>;
  close(): Promise<void>;
  flushHealth(): CursorFlushHealth;
}

/** Cursor file access. `load()` first, then `get`/`set`; `close()` flushes and stops the timer. */
export class CursorStore implements Cursors {
  private readonly cursors: SavedMap<CursorValue>;
  private readonly file: StateFile;
  private readonly failures: FlushFailures;
  readonly path: string;

  constructor(private readonly options: CursorStoreOptions) {
    const file = (this.file = new StateFile(options.stateDir, CURSOR_FILE, CURSOR_FILE_KIND));
    this.path = file.path;
    this.failures = new FlushFailures({
      logger: options.logger,
      failedMessage: 'cursor file flush failed; retrying every flush period',
      recoveredMessage: 'cursor file written again after failures',
      fields: { path: file.path },
      counter: options.flushErrors,
    });
    this.cursors = new SavedMap({
      snapshot: 'all',
      dependency: options.beforeWrite,
      write: (cursors) => file.write(Object.fromEntries([...cursors].map(([url, v]) => [url, savedCursorValue(v)]))),
      failure: (err) => file.writeError(err),
      outcome: this.failures,
    });
  }

  /** Whether the last write failed, and how many did. */
  flushHealth(): CursorFlushHealth {
    return this.failures.health();
  }

  /**
   * Reads the file (missing = no cursors) and starts the flush timer.
   * @param options.ignoreSaved start with no cursors whatever the file holds (it is overwritten at the first flush)
   */
  async load(options: { ignoreSaved?: boolean } = {}): Promise<void> {
    const text = await this.file.read(!options.ignoreSaved);
    if (text !== undefined) for (const [url, v] of parseCursorValues(text, this.path)) this.cursors.learn(url, v);
    // A reset must reach the file even if no log advances before the next stop.
    if (options.ignoreSaved) this.cursors.rewrite();
    this.cursors.start(this.options.flushMs ?? 1000, (err) => this.options.onFlushError?.(err));
  }

  /** The saved next index of a log, if any. */
  get(url: string): number | undefined {
    return this.cursors.get(url)?.next;
  }

  /** The verification state saved with a log's cursor, unchecked (LogVerification checks it). */
  verifier(url: string): unknown {
    return this.cursors.get(url)?.verifier;
  }

  /** Records a log's next index and verification state (written together at the next flush). */
  set(url: string, nextIndex: number, verifier?: object): void {
    this.cursors.set(url, verifier === undefined ? { next: nextIndex } : { next: nextIndex, verifier });
  }

  /** Writes the file now when dirty; concurrent calls are serialised. */
  flush(): Promise<void> {
    return this.cursors.flush();
  }

  /** Stops the timer and flushes. */
  close(): Promise<void> {
    return this.cursors.close();
  }
}
