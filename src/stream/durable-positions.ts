/**
 * The confirmed positions of durable subscriptions (`?id=NAME`), per NAME and stream: the seq of the
 * first replay-window entry the client has not confirmed. Kept in `durable-positions.json` in the state
 * directory, next to the cursors, written atomically (temp file, fsync, rename, fsync of the directory)
 * at most once per `flushMs` while something changed and at close, always AFTER the replay window was
 * synced, and with the positions as they were when that sync began (state/saved-map.ts) — so a saved
 * position never points past what the window holds on disk.
 */
import { CertstreamError } from '../errors.js';
import { SavedMap, type WriteOutcome } from '../state/saved-map.js';
import { parseStateFile, StateFile } from '../state/state-file.js';
import type { StreamName } from './stream-paths.js';
import { STREAM_NAMES } from './stream-paths.js';

/** File name of the positions file inside the state directory. */
export const POSITIONS_FILE = 'durable-positions.json';
const POSITIONS_FILE_KIND = { kind: 'positions', field: 'positions' };

export interface PositionStoreOptions {
  stateDir: string;
  /** Flush period while dirty, ms (default 1000). */
  flushMs?: number;
  /** Runs before every write (the replay window's fsync). */
  beforeWrite?: () => Promise<void>;
  /** Told of every write's outcome (state/flush-failures.ts counts and logs them). */
  outcome?: WriteOutcome;
}

/** Parses the positions file body; throws STATE_ERR_CORRUPT. Pure. */
export function parsePositionsFile(text: string, path = POSITIONS_FILE): Map<string, number> {
  const out = new Map<string, number>();
  // JSON.parse makes every key an own property (`__proto__` included); Object.entries lists exactly those.
  for (const [name, streams] of Object.entries(parseStateFile(text, POSITIONS_FILE_KIND, path))) {
    if (typeof streams !== 'object' || streams === null) {
      throw new CertstreamError('STATE_ERR_CORRUPT', `positions file ${path}: bad positions for ${name}`);
    }
    for (const stream of STREAM_NAMES) {
      if (!Object.hasOwn(streams, stream)) continue;
      const v = (streams as Record<string, unknown>)[stream];
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
        throw new CertstreamError('STATE_ERR_CORRUPT', `positions file ${path}: bad position for ${name} ${stream}`);
      }
      out.set(fileKey(name, stream), v);
    }
  }
  return out;
}

function fileKey(name: string, stream: StreamName): string {
  return `${stream}\n${name}`;
}

/**
 * What the hub needs of the positions: this file, or a JetStream key-value bucket that every edge shares
 * (nats/kv-positions.ts), so that a client resumes on any edge.
 */
export interface DurablePositions {
  /** Number of (NAME, stream) positions kept. */
  readonly size: number;
  get(name: string, stream: StreamName): number | undefined;
  set(name: string, stream: StreamName, seq: number): void;
  close(): Promise<void>;
}

/**
 * Both kinds of store: the positions in a SavedMap, one key per NAME and stream, spelled as the store's
 * storage needs it.
 */
export abstract class SavedPositions implements DurablePositions {
  protected abstract readonly positions: SavedMap<number>;
  protected abstract key(name: string, stream: StreamName): string;
  abstract close(): Promise<void>;

  /** Number of (NAME, stream) positions kept. */
  get size(): number {
    return this.positions.size;
  }

  get(name: string, stream: StreamName): number | undefined {
    return this.positions.get(this.key(name, stream));
  }

  set(name: string, stream: StreamName, seq: number): void {
    this.positions.set(this.key(name, stream), seq);
  }
}

export class PositionStore extends SavedPositions {
  protected readonly positions: SavedMap<number>;
  private readonly file: StateFile;
  readonly path: string;

  private constructor(options: PositionStoreOptions) {
    super();
    const file = (this.file = new StateFile(options.stateDir, POSITIONS_FILE, POSITIONS_FILE_KIND));
    this.path = file.path;
    this.positions = new SavedMap({
      snapshot: 'all',
      dependency: options.beforeWrite,
      write: (positions) => file.write(positionsByName(positions)),
      failure: (err) => file.writeError(err),
      outcome: options.outcome,
    });
  }

  /**
   * Reads the file (missing = no positions) and starts the flush timer.
   * @throws CertstreamError STATE_ERR_CORRUPT for an unreadable or malformed file, STATE_ERR_IO when
   *   the state directory cannot be created
   */
  static async open(options: PositionStoreOptions): Promise<PositionStore> {
    const store = new PositionStore(options);
    const text = await store.file.read();
    if (text !== undefined) for (const [k, seq] of parsePositionsFile(text, store.path)) store.positions.learn(k, seq);
    // A failed periodic flush is retried by the next; `outcome` counts and logs it.
    store.positions.start(options.flushMs ?? 1000, () => undefined);
    return store;
  }

  protected key(name: string, stream: StreamName): string {
    return fileKey(name, stream);
  }

  /** Writes the file now when dirty (after `beforeWrite`); calls are serialised. */
  flush(): Promise<void> {
    return this.positions.flush();
  }

  close(): Promise<void> {
    return this.positions.close();
  }
}

/**
 * The file's `positions` object for positions keyed `<stream>\n<NAME>`: per NAME, per stream. NAMEs are
 * chosen by clients: `__proto__`, `constructor` … must be plain keys, so the document is built from maps
 * and turned into objects without prototypes (JSON.stringify writes their own keys).
 */
function positionsByName(positions: ReadonlyMap<string, number>): object {
  const byName = new Map<string, Map<StreamName, number>>();
  for (const [k, seq] of positions) {
    const [stream, name] = k.split('\n') as [StreamName, string];
    let streams = byName.get(name);
    if (streams === undefined) byName.set(name, (streams = new Map()));
    streams.set(stream, seq);
  }
  const doc = Object.create(null) as Record<string, Record<string, number>>;
  for (const [name, streams] of byName) doc[name] = Object.fromEntries(streams);
  return doc;
}
