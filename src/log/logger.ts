/**
 * Structured JSON logs, one object per line on stdout (under systemd that is the journal).
 * One line per notable event, never one per certificate.
 *
 * Deliberately this small logger and not pino: the daemon writes a handful of lines a minute, so
 * pino's asynchronous transport and speed buy nothing, while its worker threads and flush-on-exit
 * rules would complicate the CLI's exit paths (every `process.exit` would need a flush). What pino does
 * that matters — errors with their type, stack and `cause` chain — is done here: an Error anywhere in
 * the fields is written as {type, message, code?, stack, cause?, errors?}, the cause chain followed
 * to a bounded depth and cycles cut. A field that cannot be serialised (a BigInt, a circular object)
 * never throws at the caller: the line is written with that field replaced by a note.
 */
export type Level = 'debug' | 'info' | 'warn' | 'error';

const LEVELS: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** A logger whose lines all carry `bindings` (e.g. `{ log: url }`). */
  child(bindings: Record<string, unknown>): Logger;
}

export interface LoggerOptions {
  /** Lowest level written; default `info`. */
  level?: Level;
  /** Where lines go; default process.stdout. */
  write?: (line: string) => void;
  /** Clock, for tests; default Date.now. */
  now?: () => number;
}

export function createLogger(options: LoggerOptions = {}, bindings: Record<string, unknown> = {}): Logger {
  const min = LEVELS[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stdout.write(line));
  const now = options.now ?? Date.now;
  const emit = (level: Level, msg: string, fields?: Record<string, unknown>): void => {
    if (LEVELS[level] < min) return;
    const record: Record<string, unknown> = { time: new Date(now()).toISOString(), level, msg, ...bindings, ...fields };
    write(serialize(record) + '\n');
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (b) => createLogger(options, { ...bindings, ...b }),
  };
}

/** A logger that writes nothing (tests, benchmarks). */
export const silentLogger: Logger = createLogger({ write: () => {} });

/** How deep a chain of causes is followed. */
const MAX_CAUSE_DEPTH = 8;

/** One log record as JSON; unserialisable fields are replaced by a note instead of throwing. */
function serialize(record: Record<string, unknown>): string {
  try {
    return JSON.stringify(record, errorReplacer());
  } catch {
    const safe: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(record)) {
      try {
        JSON.stringify(value, errorReplacer());
        safe[key] = value;
      } catch (err) {
        safe[key] = `[unserialisable: ${err instanceof Error ? err.message : String(err)}]`;
      }
    }
    return JSON.stringify(safe, errorReplacer());
  }
}

/**
 * A JSON.stringify replacer that writes Errors (which have no enumerable fields) the way pino's error
 * serialiser does. Causes are returned as Errors and go through the replacer again, one level deeper;
 * an Error already written in this record (a cycle) or beyond MAX_CAUSE_DEPTH becomes a short note.
 */
function errorReplacer(): (key: string, value: unknown) => unknown {
  const depthOf = new WeakMap<Error, number>();
  return (_key, value) => {
    if (!(value instanceof Error)) return value;
    const depth = depthOf.get(value) ?? 0;
    depthOf.set(value, depth);
    const out: Record<string, unknown> = { type: value.name, message: value.message };
    if ('code' in value && value.code !== undefined) out.code = value.code;
    if (value.stack !== undefined) out.stack = value.stack;
    const nested = (child: unknown): unknown => {
      if (!(child instanceof Error)) return child;
      if (depthOf.has(child) || depth + 1 > MAX_CAUSE_DEPTH) return `[${child.name}: ${child.message}]`;
      depthOf.set(child, depth + 1);
      return child;
    };
    if (value.cause !== undefined) out.cause = nested(value.cause);
    if (value instanceof AggregateError) out.errors = (value.errors as unknown[]).map(nested);
    return out;
  };
}
