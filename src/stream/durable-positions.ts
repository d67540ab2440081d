/**
 * The confirmed positions of durable subscriptions (`?id=NAME`), per NAME and stream: the seq of the
 * first replay-window entry the client has not confirmed. Kept in `durable-positions.json` in the state
 * directory, next to the cursors, written atomically (temp file, fsync, rename, fsync of the directory)
 * at most once per `flushMs` while something changed and at close, always AFTER the replay window was
 * synced, and with the positions as they were when that sync began (state/saved-map.ts) — so a saved
 * position never points past what the window holds on disk.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CertstreamError } from '../errors.js';
import { writeFileAtomic } from '../state/atomic-file.js';
import { SavedMap } from '../state/saved-map.js';
import type { StreamName } from './stream-paths.js';
import { STREAM_NAMES } from './stream-paths.js';

/** File name of the positions file inside the state directory. */
export const POSITIONS_FILE = 'durable-positions.json';

export interface PositionStoreOptions {
  stateDir: string;
  /** Flush period while dirty, ms (default 1000). */
  flushMs?: number;
  /** Runs before every write (the replay window's fsync). */
  beforeWrite?: () => Promise<void>;
  /** Called when a periodic flush fails (the next one retries). */
  onFlushError?: (err: unknown) => void;
}

/** Parses the positions file body; throws STATE_ERR_CORRUPT. Pure. */
export function parsePositionsFile(text: string, path = POSITIONS_FILE): Map<string, number> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new CertstreamError('STATE_ERR_CORRUPT', `positions file ${path} is not valid JSON (fix or remove it)`);
  }
  const d = doc as { version?: unknown; positions?: unknown } | null;
  if (d?.version !== 1 || typeof d.positions !== 'object' || d.positions === null) {
    throw new CertstreamError('STATE_ERR_CORRUPT', `positions file ${path} is not a version 1 positions file`);
  }
  const out = new Map<string, number>();
  // JSON.parse makes every key an own property (`__proto__` included); Object.entries lists exactly those.
  for (const [name, streams] of Object.entries(d.positions as object)) {
    if (typeof streams !== 'object' || streams === null) {
      throw new CertstreamError('STATE_ERR_CORRUPT', `positions file ${path}: bad positions for ${name}`);
    }
    for (const stream of STREAM_NAMES) {
      if (!Object.hasOwn(streams, stream)) continue;
      const v = (streams as Record<string, unknown>)[stream];
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
        throw new CertstreamError('STATE_ERR_CORRUPT', `positions file ${path}: bad position for ${name} ${stream}`);
      }
      out.set(key(name, stream), v);
    }
  }
  return out;
}

function key(name: string, stream: StreamName): string {
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

export class PositionStore implements DurablePositions {
  private readonly positions: SavedMap<number>;
  readonly path: string;

  private constructor(private readonly options: PositionStoreOptions) {
    const path = (this.path = join(options.stateDir, POSITIONS_FILE));
    this.positions = new SavedMap({
      snapshot: 'all',
      dependency: options.beforeWrite,
      write: (positions) => writeFileAtomic(path, positionsFileBody(positions)),
      failure: (err) => new CertstreamError('STATE_ERR_IO', `cannot write positions file ${path}`, { cause: err }),
    });
  }

  /**
   * Reads the file (missing = no positions) and starts the flush timer.
   * @throws CertstreamError STATE_ERR_CORRUPT for an unreadable or malformed file
   */
  static async open(options: PositionStoreOptions): Promise<PositionStore> {
    const store = new PositionStore(options);
    await mkdir(options.stateDir, { recursive: true });
    try {
      for (const [k, seq] of parsePositionsFile(await readFile(store.path, 'utf8'), store.path)) store.positions.learn(k, seq);
    } catch (err) {
      if (err instanceof CertstreamError) throw err;
      if ((err as { code?: string }).code !== 'ENOENT') {
        throw new CertstreamError('STATE_ERR_CORRUPT', `cannot read positions file ${store.path}`, { cause: err });
      }
    }
    store.positions.start(options.flushMs ?? 1000, (err) => options.onFlushError?.(err));
    return store;
  }

  /** Number of (NAME, stream) positions kept. */
  get size(): number {
    return this.positions.size;
  }

  get(name: string, stream: StreamName): number | undefined {
    return this.positions.get(key(name, stream));
  }

  set(name: string, stream: StreamName, seq: number): void {
    this.positions.set(key(name, stream), seq);
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
 * The file's body for positions keyed `<stream>\n<NAME>`. NAMEs are chosen by clients: `__proto__`,
 * `constructor` … must be plain keys, so the document is built from maps and turned into objects
 * without prototypes (JSON.stringify writes their own keys).
 */
function positionsFileBody(positions: ReadonlyMap<string, number>): string {
  const byName = new Map<string, Map<StreamName, number>>();
  for (const [k, seq] of positions) {
    const [stream, name] = k.split('\n') as [StreamName, string];
    let streams = byName.get(name);
    if (streams === undefined) byName.set(name, (streams = new Map()));
    streams.set(stream, seq);
  }
  const doc = Object.create(null) as Record<string, Record<string, number>>;
  for (const [name, streams] of byName) doc[name] = Object.fromEntries(streams);
  return JSON.stringify({ version: 1, positions: doc }) + '\n';
}
