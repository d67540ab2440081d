/**
 * The small JSON files of the state directory (the cursors, the durable positions), each
 * `{"version":1,"<field>":{...}}`: read at start, replaced atomically (atomic-file.ts). A file that
 * exists but cannot be read or parsed is STATE_ERR_CORRUPT: starting over silently would lose or repeat
 * entries, so the operator decides.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CertstreamError } from '../errors.js';
import { writeFileAtomic } from './atomic-file.js';

/** Which file: its kind names it in messages (`cursor file …`), its field holds the values. */
export interface StateFileKind {
  readonly kind: string;
  readonly field: string;
}

/**
 * The object under the file's field, as JSON.parse made it (every key an own property, `__proto__`
 * included). Pure.
 * @throws CertstreamError STATE_ERR_CORRUPT when the text is not JSON or not a version 1 file of its kind
 */
export function parseStateFile(text: string, { kind, field }: StateFileKind, path: string): object {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new CertstreamError('STATE_ERR_CORRUPT', `${kind} file ${path} is not valid JSON (fix or remove it)`);
  }
  const d = doc as Record<string, unknown> | null;
  const values = d !== null && typeof d === 'object' && Object.hasOwn(d, field) ? d[field] : undefined;
  if (d?.version !== 1 || typeof values !== 'object' || values === null) {
    throw new CertstreamError('STATE_ERR_CORRUPT', `${kind} file ${path} is not a version 1 ${kind} file`);
  }
  return values;
}

export class StateFile {
  readonly path: string;

  constructor(
    private readonly stateDir: string,
    name: string,
    private readonly what: StateFileKind,
  ) {
    this.path = join(stateDir, name);
  }

  /**
   * Creates the state directory when missing and reads the file.
   * @param readSaved false: only the directory (the file is overwritten at the first write)
   * @returns the file's text, or undefined when there is none (or `readSaved` is false)
   * @throws CertstreamError STATE_ERR_IO (the directory cannot be created), STATE_ERR_CORRUPT (unreadable)
   */
  async read(readSaved = true): Promise<string | undefined> {
    try {
      await mkdir(this.stateDir, { recursive: true });
    } catch (err) {
      throw new CertstreamError('STATE_ERR_IO', `cannot create state directory ${this.stateDir}`, { cause: err });
    }
    if (!readSaved) return undefined;
    try {
      return await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') return undefined;
      throw new CertstreamError('STATE_ERR_CORRUPT', `cannot read ${this.what.kind} file ${this.path}`, { cause: err });
    }
  }

  /** Replaces the file with `{"version":1,"<field>":values}` (a prototype-less object is written like any other). */
  write(values: object): Promise<void> {
    return writeFileAtomic(this.path, JSON.stringify({ version: 1, [this.what.field]: values }) + '\n');
  }

  /** A failed write (or what it waited for), as the store reports it. */
  writeError(err: unknown): CertstreamError {
    return new CertstreamError('STATE_ERR_IO', `cannot write ${this.what.kind} file ${this.path}`, { cause: err });
  }
}
