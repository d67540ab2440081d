/**
 * Argument parsing shared by `certaudit compare` and `certaudit record` (yargs, strict): usage errors
 * become one line and exit code 2, `--help` prints the usage. Pure apart from yargs itself.
 */
import yargs, { type Argv } from 'yargs';
import { CertstreamError } from '../../errors.js';

/** Outcome of parsing: the values, a help text to print, or a one-line usage error. */
export type Parsed<T> = { values: T } | { help: string } | { usage: string };

/**
 * Runs a yargs definition on `argv` without letting yargs print or exit.
 * @param define adds the options to a fresh yargs instance
 * @param check turns the raw values into the command's options; throws AUDIT_ERR_USAGE for bad values
 */
export async function parseWith<T>(
  argv: string[],
  usage: string,
  define: (y: Argv) => Argv,
  check: (raw: Record<string, unknown>) => T,
): Promise<Parsed<T>> {
  if (argv.includes('--help') || argv.includes('-h')) {
    const y = define(yargs([]).usage(usage).version(false).help(false).wrap(null));
    return { help: `${await y.getHelp()}\n` };
  }
  let failure: string | undefined;
  const y = define(yargs(argv).usage(usage))
    .version(false)
    .help(false)
    .strict()
    .exitProcess(false)
    .fail((msg, err) => {
      failure = msg || err?.message || 'invalid arguments';
    });
  let raw: Record<string, unknown>;
  try {
    raw = (await y.parseAsync()) as Record<string, unknown>;
  } catch (err) {
    return { usage: failure ?? (err instanceof Error ? err.message : String(err)) };
  }
  if (failure) return { usage: failure };
  const positional = raw._ as unknown[];
  if (positional.length > 0) return { usage: `unexpected argument '${String(positional[0])}'` };
  try {
    return { values: check(raw) };
  } catch (err) {
    if (err instanceof CertstreamError && err.code === 'AUDIT_ERR_USAGE') return { usage: err.message };
    throw err;
  }
}

/** A usage error with a stable code. */
export function usageError(message: string): CertstreamError {
  return new CertstreamError('AUDIT_ERR_USAGE', message);
}

/**
 * Seconds as a finite number, or undefined when absent.
 * @param positive true: must be > 0; false: must be ≥ 0
 */
export function optionalSeconds(raw: unknown, flag: string, positive: boolean): number | undefined {
  if (raw === undefined) return undefined;
  const n = typeof raw === 'string' && raw.trim() === '' ? NaN : Number(raw);
  if (!Number.isFinite(n) || n < 0 || (positive && n === 0)) {
    throw usageError(`${flag} must be a ${positive ? 'positive' : 'non-negative'} number of seconds, got '${String(raw)}'`);
  }
  return n;
}

/** A TCP port 0–65535, or undefined when absent. */
export function optionalPort(raw: unknown, flag: string): number | undefined {
  if (raw === undefined) return undefined;
  const n = typeof raw === 'number' ? raw : Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw usageError(`${flag} must be a port number 0-65535, got '${String(raw)}'`);
  return n;
}
