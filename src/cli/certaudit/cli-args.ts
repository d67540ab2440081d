/**
 * Argument parsing shared by `certaudit compare` and `certaudit record` (yargs, strict): usage errors
 * become one line and exit code 2, `--help` prints the usage. Pure apart from yargs itself.
 */
import yargs, { type Argv } from 'yargs';
import { CertstreamError } from '../../errors.js';

/** Outcome of parsing: the values, a help text to print, or a one-line usage error. */
export type Parsed<T> = { values: T } | { help: string } | { usage: string };

/**
 * A parsed command line, or the exit code of what it asked instead: `--help` prints the help on stdout
 * (exit 0), a usage error one line on stderr prefixed with `command` (exit 2).
 */
export function valuesOrExit<T>(parsed: Parsed<T>, command: string, io: { stdout: { write(s: string): unknown }; stderr: { write(s: string): unknown } }): { values: T } | { exit: number } {
  if ('help' in parsed) {
    io.stdout.write(parsed.help);
    return { exit: 0 };
  }
  if ('usage' in parsed) {
    io.stderr.write(`${command}: ${parsed.usage.split('\n')[0]}\n`);
    return { exit: 2 };
  }
  return parsed;
}

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

/** Bounds of a seconds option, inclusive; `label` says the maximum in words for the error line. */
export interface SecondsBounds {
  min: number;
  max: number;
  label?: string;
}

/** `--duration`: at least a second, at most 14 days (Node timers cannot wait 25 days; a longer audit runs as a monitor). */
export const DURATION_BOUNDS: SecondsBounds = { min: 1, max: 14 * 86_400, label: '14 days' };
/** `--grace`: 0 (judge at once) up to an hour; a feed later than that is not late, it is missing. */
export const GRACE_BOUNDS: SecondsBounds = { min: 0, max: 3_600, label: '1 hour' };

/**
 * Seconds as a finite number within `bounds`, or undefined when absent. Out-of-range values are usage
 * errors rather than clamped: a typo such as `--duration 3000000` must not run for 1 ms (Node clamps
 * timers above 2^31-1 ms) or for a month.
 */
export function optionalSeconds(raw: unknown, flag: string, bounds: SecondsBounds): number | undefined {
  if (raw === undefined) return undefined;
  const n = typeof raw === 'string' && raw.trim() === '' ? NaN : Number(raw);
  if (!Number.isFinite(n) || n < bounds.min || n > bounds.max) {
    const max = bounds.label ? `${bounds.max} (${bounds.label})` : String(bounds.max);
    throw usageError(`${flag} must be a number of seconds from ${bounds.min} to ${max}, got '${String(raw)}'`);
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
