/**
 * `certstream-watch test --watch FILE NAME...` (interface.md): which rule of a watch file matches each
 * NAME, with the matcher `run` uses (same normalisation, regex rules under the same time limit). One
 * line per (name, rule): `NAME<TAB>RULE<TAB>line N`, or `NAME<TAB>no match`.
 * Exit codes: 0 at least one name matched, 1 none did, 2 usage error, 78 invalid watch file.
 */
import { parseWith, usageError, valuesOrExit, type Parsed } from '../certaudit/cli-args.js';
import { Matcher } from '../../watch/matcher.js';
import { readWatchFile, type WatchIo } from './run-command.js';

/** Parsed options of `test`. */
export interface TestOptions {
  watchFile: string;
  names: string[];
  regexTimeoutMs: number;
}

const USAGE = `Usage: certstream-watch test --watch FILE NAME...

Prints which rule of the watch file matches each NAME (as run would match a certificate name).
Exit codes: 0 a name matched, 1 none matched, 2 usage error, 78 invalid watch file.`;

/** Parses the arguments of `test` (the names are positional). */
export async function parseTestArgs(argv: string[], env: Record<string, string | undefined>): Promise<Parsed<TestOptions>> {
  // The shared parser refuses positionals; the names are everything that is not an option.
  const names: string[] = [];
  const flags: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      names.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('-')) {
      flags.push(a);
      if (!a.includes('=') && (a === '--watch' || a === '--regex-timeout') && i + 1 < argv.length) flags.push(argv[++i]);
    } else names.push(a);
  }
  return parseWith(
    flags,
    USAGE,
    (y) =>
      y
        .option('watch', { type: 'string', describe: 'watch file, one rule a line (CERTWATCH_WATCH)', requiresArg: true })
        .option('regex-timeout', { type: 'string', describe: 'time limit of one regex rule, ms (default 1000)', requiresArg: true }),
    (raw) => {
      const watchFile = typeof raw.watch === 'string' ? raw.watch : env.CERTWATCH_WATCH;
      if (watchFile === undefined || watchFile === '') throw usageError('--watch FILE is required');
      if (names.length === 0) throw usageError('give at least one NAME to test');
      const t = typeof raw['regex-timeout'] === 'string' ? Number(raw['regex-timeout']) : 1000;
      if (!Number.isInteger(t) || t < 10) throw usageError(`--regex-timeout must be an integer number of ms >= 10, got '${String(raw['regex-timeout'])}'`);
      return { watchFile, names, regexTimeoutMs: t };
    },
  );
}

/** `certstream-watch test`: returns the exit code. */
export async function runTest(argv: string[], io: WatchIo): Promise<number> {
  const { stdout, stderr } = io;
  const parsed = await parseTestArgs(argv, io.env);
  const args = valuesOrExit(parsed, 'certstream-watch test', { stdout, stderr });
  if ('exit' in args) return args.exit;
  const o = args.values;
  const w = await readWatchFile(o.watchFile);
  if ('problems' in w) {
    for (const p of w.problems) stderr.write(`certstream-watch: ${p}\n`);
    return 78;
  }
  const timedOut: string[] = [];
  const matcher = new Matcher(w.rules, { timeoutMs: o.regexTimeoutMs, maxTimeouts: Infinity, onTimeout: (r) => timedOut.push(r.text) });
  try {
    const found = await matcher.match(o.names);
    let out = '';
    for (let i = 0; i < o.names.length; i++) {
      const hits = found.filter((m) => m.index === i).sort((a, b) => a.rule.line - b.rule.line);
      if (hits.length === 0) out += `${o.names[i]}\tno match\n`;
      for (const h of hits) out += `${o.names[i]}\t${h.rule.text}\tline ${h.rule.line}\n`;
    }
    stdout.write(out);
    for (const t of new Set(timedOut)) stderr.write(`certstream-watch: rule ${t} overran --regex-timeout ${o.regexTimeoutMs} ms and was skipped\n`);
    return found.length > 0 ? 0 : 1;
  } finally {
    await matcher.close();
  }
}
