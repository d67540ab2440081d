/**
 * The confirmed positions of durable subscriptions (`?id=NAME`), per NAME and stream: the seq of the
 * first replay-window entry the client has not confirmed, and when the NAME was last used (connected
 * or confirmed). Kept in the state directory, next to the cursors, as a snapshot
 * (`durable-positions.json`, replaced atomically) and a journal of the changes since
 * (`durable-positions.journal`, appended and fsynced: state/journal-file.ts), so that a save costs what
 * changed, not every position. Saved at most once per `flushMs` while something changed and at close,
 * always AFTER the replay window was synced, and with the positions as they were when that sync began
 * (state/saved-map.ts) — so a saved position never points past what the window holds on disk.
 *
 * Lifetime and cap (both stores, file and NATS): a position neither confirmed nor used for `expireMs`
 * is forgotten (swept at open and periodically); a NAME the store does not hold is not admitted while
 * it holds `maxPositions` positions (the hub answers 503).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CertstreamError } from '../errors.js';
import { JournalFile, parseJournal } from '../state/journal-file.js';
import { SavedMap, type WriteOutcome } from '../state/saved-map.js';
import { parseStateFile, StateFile } from '../state/state-file.js';
import type { StreamName } from './stream-paths.js';
import { STREAM_NAMES } from './stream-paths.js';

/** File name of the positions snapshot inside the state directory. */
export const POSITIONS_FILE = 'durable-positions.json';
/** File name of the journal of changes since the snapshot. */
export const POSITIONS_JOURNAL = 'durable-positions.journal';
const POSITIONS_FILE_KIND = { kind: 'positions', field: 'positions' };
/** The journal is folded into the snapshot when it holds more records than this many times the live positions… */
const COMPACT_FACTOR = 2;
/** …plus this many (a small set is not rewritten at every save). */
const COMPACT_SLACK = 1000;

/** A saved position. */
export interface Position {
  /** The first window seq the client has not confirmed. */
  readonly seq: number;
  /** When the NAME last connected or confirmed, epoch ms. */
  readonly used: number;
}

/** How long positions live and how many are kept (--durable-expire, --max-durable-subscriptions). */
export interface PositionLimits {
  /** A position neither confirmed nor used for this long is forgotten, ms (0 = never; default 7 days). */
  expireMs?: number;
  /** Most positions (NAME and stream) kept; a new one beyond is not admitted (default 10,000). */
  maxPositions?: number;
  /** The clock, epoch ms (default Date.now). */
  now?: () => number;
}

export interface PositionStoreOptions extends PositionLimits {
  stateDir: string;
  /** Flush period while dirty, ms (default 1000). */
  flushMs?: number;
  /** Runs before every write (the replay window's fsync). */
  beforeWrite?: () => Promise<void>;
  /** Told of every write's outcome (state/flush-failures.ts counts and logs them). */
  outcome?: WriteOutcome;
}

export const DEFAULT_EXPIRE_MS = 7 * 24 * 3600 * 1000;
export const DEFAULT_MAX_POSITIONS = 10_000;

/**
 * Parses the positions snapshot; throws STATE_ERR_CORRUPT. A position is `[seq, used]` (used: epoch
 * ms), or a bare seq as written before positions had a lifetime: it counts as used at `loadedAt`. Pure.
 */
export function parsePositionsFile(text: string, path = POSITIONS_FILE, loadedAt = Date.now()): Map<string, Position> {
  const out = new Map<string, Position>();
  // JSON.parse makes every key an own property (`__proto__` included); Object.entries lists exactly those.
  for (const [name, streams] of Object.entries(parseStateFile(text, POSITIONS_FILE_KIND, path))) {
    if (typeof streams !== 'object' || streams === null) {
      throw new CertstreamError('STATE_ERR_CORRUPT', `positions file ${path}: bad positions for ${name}`);
    }
    for (const stream of STREAM_NAMES) {
      if (!Object.hasOwn(streams, stream)) continue;
      const v = (streams as Record<string, unknown>)[stream];
      const [seq, used] = Array.isArray(v) && v.length === 2 ? v : [v, loadedAt];
      if (!isCount(seq) || !isCount(used)) {
        throw new CertstreamError('STATE_ERR_CORRUPT', `positions file ${path}: bad position for ${name} ${stream}`);
      }
      out.set(fileKey(name, stream), { seq, used });
    }
  }
  return out;
}

/** One line of the journal: a position saved (`q` seq, `u` used) or forgotten (`d`). */
interface JournalRecord {
  key: string;
  position: Position | undefined;
}

/** A journal line as a record; undefined for anything else (the torn tail of an unfinished save). Pure. */
export function parseJournalLine(line: string): JournalRecord | undefined {
  let r: unknown;
  try {
    r = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof r !== 'object' || r === null) return undefined;
  const { n, s, q, u, d } = r as Record<string, unknown>;
  if (typeof n !== 'string' || !STREAM_NAMES.includes(s as StreamName)) return undefined;
  const key = fileKey(n, s as StreamName);
  if (d === 1) return { key, position: undefined };
  return isCount(q) && isCount(u) ? { key, position: { seq: q, used: u } } : undefined;
}

function applyJournal(saved: Map<string, Position>, records: readonly JournalRecord[]): void {
  for (const { key, position } of records) {
    if (position === undefined) saved.delete(key);
    else saved.set(key, position);
  }
}

/**
 * The positions saved in a state directory (snapshot and journal, a torn journal tail ignored), per NAME
 * and stream, without opening a store (nothing is written): for tools and tests while a daemon runs.
 * @throws CertstreamError STATE_ERR_CORRUPT for a malformed snapshot; the file system's error otherwise
 */
export async function readSavedPositions(stateDir: string): Promise<Map<string, Map<StreamName, Position>>> {
  const snapshot = await readFile(join(stateDir, POSITIONS_FILE), 'utf8').catch(ifMissing(undefined));
  const saved = snapshot === undefined ? new Map<string, Position>() : parsePositionsFile(snapshot, join(stateDir, POSITIONS_FILE));
  const journal = await readFile(join(stateDir, POSITIONS_JOURNAL)).catch(ifMissing(Buffer.alloc(0)));
  applyJournal(saved, parseJournal(journal, parseJournalLine).records);
  const byName = new Map<string, Map<StreamName, Position>>();
  for (const [k, p] of saved) {
    const [stream, name] = k.split('\n') as [StreamName, string];
    const streams = byName.get(name) ?? new Map<StreamName, Position>();
    byName.set(name, streams.set(stream, p));
  }
  return byName;
}

/** A catch handler: `value` for a missing file, the error rethrown otherwise. */
function ifMissing<T>(value: T): (err: unknown) => T {
  return (err) => {
    if ((err as { code?: string }).code === 'ENOENT') return value;
    throw err;
  };
}

function journalLine(key: string, position: Position | undefined): string {
  const [s, n] = key.split('\n');
  return JSON.stringify(position === undefined ? { n, s, d: 1 } : { n, s, q: position.seq, u: position.used }) + '\n';
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function fileKey(name: string, stream: StreamName): string {
  return `${stream}\n${name}`;
}

/**
 * What the hub needs of the positions: these files, or a JetStream key-value bucket that every edge shares
 * (nats/kv-positions.ts), so that a client resumes on any edge.
 */
export interface DurablePositions {
  /** Number of (NAME, stream) positions kept. */
  readonly size: number;
  get(name: string, stream: StreamName): number | undefined;
  /** Saves a confirmed position (the NAME is used now). */
  set(name: string, stream: StreamName, seq: number): void;
  /** The NAME connected: its position, if any, is used now (its lifetime starts again). */
  touch(name: string, stream: StreamName): void;
  /** Whether a client with this NAME may connect: a position is held for it, or there is room for one more. */
  admits(name: string, stream: StreamName): boolean;
  /**
   * Brings this NAME's position up to date from a store that other servers write too, before a client
   * with it connects (undefined when what is held in memory is always the latest).
   */
  refresh?(name: string, stream: StreamName): Promise<void>;
  close(): Promise<void>;
}

/**
 * Both kinds of store: the positions in a SavedMap, one key per NAME and stream, spelled as the store's
 * storage needs it; their lifetime and cap.
 */
export abstract class SavedPositions implements DurablePositions {
  protected abstract readonly positions: SavedMap<Position>;
  protected abstract key(name: string, stream: StreamName): string;
  abstract close(): Promise<void>;
  private sweeper: NodeJS.Timeout | undefined;
  protected readonly now: () => number;
  private readonly expireMs: number;
  private readonly maxPositions: number;
  /** A position confirmed again at the same seq is saved again only when its last save is this old, ms. */
  private readonly refreshMs: number;

  constructor(limits: PositionLimits) {
    this.now = limits.now ?? Date.now;
    this.expireMs = limits.expireMs ?? DEFAULT_EXPIRE_MS;
    this.maxPositions = limits.maxPositions ?? DEFAULT_MAX_POSITIONS;
    // An idle client confirms the same seq at every ping: a tenth of the lifetime (at most an hour)
    // keeps its position alive without a save per ping.
    this.refreshMs = this.expireMs > 0 ? Math.min(this.expireMs / 10, 3_600_000) : Infinity;
  }

  /** Number of (NAME, stream) positions kept. */
  get size(): number {
    return this.positions.size;
  }

  get(name: string, stream: StreamName): number | undefined {
    return this.positions.get(this.key(name, stream))?.seq;
  }

  set(name: string, stream: StreamName, seq: number): void {
    const key = this.key(name, stream);
    const held = this.positions.get(key);
    const now = this.now();
    if (held !== undefined && held.seq === seq && now - held.used < this.refreshMs) return;
    this.positions.set(key, { seq, used: now });
  }

  touch(name: string, stream: StreamName): void {
    const seq = this.get(name, stream);
    if (seq !== undefined) this.set(name, stream, seq);
  }

  admits(name: string, stream: StreamName): boolean {
    return this.positions.get(this.key(name, stream)) !== undefined || this.positions.size < this.maxPositions;
  }

  /**
   * Forgets every position not used for the expiry time (the next save removes them from storage).
   * @returns how many were forgotten
   */
  expire(): number {
    if (this.expireMs <= 0) return 0;
    const before = this.now() - this.expireMs;
    const old: string[] = [];
    for (const [key, p] of this.positions.entries()) if (p.used <= before) old.push(key);
    for (const key of old) this.positions.delete(key);
    return old.length;
  }

  /** Sweeps now, then every tenth of the expiry time (between 1 s and 1 min; an unref'd timer). */
  protected startExpiry(): void {
    if (this.expireMs <= 0) return;
    this.expire();
    this.sweeper = setInterval(() => this.expire(), Math.min(60_000, Math.max(1000, this.expireMs / 10)));
    this.sweeper.unref();
  }

  protected stopExpiry(): void {
    clearInterval(this.sweeper);
  }
}

export class PositionStore extends SavedPositions {
  protected readonly positions: SavedMap<Position>;
  private readonly file: StateFile;
  private readonly journal: JournalFile;
  /** What the snapshot and the journal hold together: the next snapshot is made of these. */
  private readonly saved = new Map<string, Position>();
  readonly path: string;
  /** Bytes of an unfinished save cut from the journal's end at open. */
  cutBytes = 0;

  private constructor(options: PositionStoreOptions) {
    super(options);
    const file = (this.file = new StateFile(options.stateDir, POSITIONS_FILE, POSITIONS_FILE_KIND));
    this.path = file.path;
    this.journal = new JournalFile(join(options.stateDir, POSITIONS_JOURNAL));
    this.positions = new SavedMap({
      snapshot: 'changed',
      dependency: options.beforeWrite,
      write: (changed, deleted) => this.write(changed, deleted),
      failure: (err) => file.writeError(err),
      outcome: options.outcome,
    });
  }

  /**
   * Reads the snapshot and the journal (missing = no positions; a torn journal tail is cut), forgets
   * the expired positions and starts the flush timer.
   * @throws CertstreamError STATE_ERR_CORRUPT for an unreadable or malformed snapshot, STATE_ERR_IO when
   *   the state directory cannot be created or the journal cannot be read
   */
  static async open(options: PositionStoreOptions): Promise<PositionStore> {
    const store = new PositionStore(options);
    const text = await store.file.read();
    if (text !== undefined) for (const [k, p] of parsePositionsFile(text, store.path, store.now())) store.saved.set(k, p);
    try {
      const { records, cutBytes } = await store.journal.load(parseJournalLine);
      store.cutBytes = cutBytes;
      applyJournal(store.saved, records);
    } catch (err) {
      throw new CertstreamError('STATE_ERR_IO', `cannot read positions journal ${store.journal.path}`, { cause: err });
    }
    for (const [k, p] of store.saved) store.positions.learn(k, p);
    store.startExpiry();
    // A failed periodic flush is retried by the next; `outcome` counts and logs it.
    store.positions.start(options.flushMs ?? 1000, () => undefined);
    return store;
  }

  protected key(name: string, stream: StreamName): string {
    return fileKey(name, stream);
  }

  /** Writes what changed now (after `beforeWrite`); calls are serialised. */
  flush(): Promise<void> {
    return this.positions.flush();
  }

  close(): Promise<void> {
    this.stopExpiry();
    return this.positions.close();
  }

  /** Appends the changes to the journal; folds the journal into a new snapshot once it is large. */
  private async write(changed: ReadonlyMap<string, Position>, deleted: ReadonlySet<string>): Promise<void> {
    let lines = '';
    for (const key of deleted) lines += journalLine(key, undefined);
    for (const [key, p] of changed) lines += journalLine(key, p);
    await this.journal.append(lines, deleted.size + changed.size);
    for (const key of deleted) this.saved.delete(key);
    for (const [key, p] of changed) this.saved.set(key, p);
    if (this.journal.records <= COMPACT_FACTOR * this.saved.size + COMPACT_SLACK) return;
    // The snapshot first: a crash before the journal is emptied replays it over a snapshot that holds
    // it already, which ends in the same positions.
    await this.file.write(positionsByName(this.saved));
    await this.journal.clear();
  }
}

/**
 * The snapshot's `positions` object for positions keyed `<stream>\n<NAME>`: per NAME, per stream
 * `[seq, used]`. NAMEs are chosen by clients: `__proto__`, `constructor` … must be plain keys, so the
 * document is built from maps and turned into objects without prototypes (JSON.stringify writes their
 * own keys).
 */
function positionsByName(positions: ReadonlyMap<string, Position>): object {
  const byName = new Map<string, Map<StreamName, [number, number]>>();
  for (const [k, p] of positions) {
    const [stream, name] = k.split('\n') as [StreamName, string];
    let streams = byName.get(name);
    if (streams === undefined) byName.set(name, (streams = new Map()));
    streams.set(stream, [p.seq, p.used]);
  }
  const doc = Object.create(null) as Record<string, Record<string, [number, number]>>;
  for (const [name, streams] of byName) doc[name] = Object.fromEntries(streams);
  return doc;
}
