/**
 * Reads the daemon's configuration from argv (yargs) and the environment: flag > CERTSTREAM_<FLAG> >
 * the option's alias (PORT) > default, every option as the table in options.ts describes it (--help
 * too). Unknown flags and missing flag values are problems like bad values; all of them are reported
 * together by a CertstreamError CONFIG_ERR_INVALID (exit 78).
 */
import { accessSync, constants, statSync } from 'node:fs';
import yargs from 'yargs';
import { CertstreamError } from '../errors.js';
import { VERSION } from '../version.js';
import { OPTIONS, describeRange, envName, shownDefault, type OptionSpec } from './options.js';
import { validateConfig, type RawConfig, type ServerConfig } from './server-config.js';

export type ParseOutcome =
  | { kind: 'config'; config: ServerConfig }
  /** --help or --version: print `text` on stdout and exit 0. */
  | { kind: 'exit'; text: string };

/**
 * @param argv arguments after the script name (process.argv.slice(2))
 * @param env the environment (process.env)
 * @throws CertstreamError CONFIG_ERR_INVALID whose message holds one line per problem
 */
export function parseServerArgs(argv: readonly string[], env: Record<string, string | undefined>): ParseOutcome {
  const problems: string[] = [];
  let printed = '';
  const parser = yargs([...argv])
    .scriptName('certstream-server')
    .usage('$0 [options]\n\nCertificate Transparency streaming server (certstream-compatible).')
    .version(VERSION)
    .help()
    .strict()
    .parserConfiguration({ 'camel-case-expansion': false, 'boolean-negation': true, 'duplicate-arguments-array': true })
    .exitProcess(false)
    .fail((msg, err) => {
      problems.push(oneLine(msg ?? err?.message ?? 'invalid arguments'));
    })
    .wrap(null);
  for (const option of OPTIONS) {
    const boolean = option.kind === 'boolean';
    parser.option(option.flag, {
      type: option.kind === 'regex-list' ? 'array' : boolean ? 'boolean' : 'string',
      string: !boolean,
      describe: helpLine(option),
      requiresArg: !boolean && option.kind !== 'regex-list',
    });
  }
  let args: Record<string, unknown> = {};
  // Capture --help / --version output instead of letting yargs write and exit.
  const parsed = parser.parseSync([...argv], {}, (_err, _argv, output) => {
    printed = output;
  });
  args = parsed as Record<string, unknown>;
  if (problems.length === 0 && (args.help === true || args.version === true)) return { kind: 'exit', text: printed };

  const positional = (args._ as unknown[] | undefined) ?? [];
  if (positional.length > 0 && problems.length === 0) problems.push(`unexpected argument: ${positional.map(String).join(' ')}`);

  const raw: RawConfig = {};
  for (const option of OPTIONS) {
    const fromFlag = args[option.flag];
    if (fromFlag !== undefined) {
      if (option.kind === 'regex-list') raw[option.flag] = (fromFlag as unknown[]).map(String);
      else if (option.kind === 'boolean') raw[option.flag] = fromFlag as boolean;
      else if (Array.isArray(fromFlag)) problems.push(`--${option.flag}: given ${fromFlag.length} times`);
      else raw[option.flag] = String(fromFlag);
      continue;
    }
    const fromEnv = env[envName(option.flag)] ?? (option.envAlias !== undefined ? env[option.envAlias] : undefined);
    if (fromEnv === undefined) continue;
    raw[option.flag] = option.kind === 'regex-list' ? fromEnv.split(/\s+/).filter((s) => s !== '') : fromEnv;
  }

  const result = validateConfig(raw, { env, isReadableFile });
  if (!result.ok) problems.push(...result.problems);
  if (problems.length > 0) throw configError(problems);
  if (!result.ok) throw configError(['invalid configuration']);
  return { kind: 'config', config: result.config };
}

/** One option's --help text: what it does, the accepted values, its variable and its default. */
export function helpLine(option: OptionSpec): string {
  const range = describeRange(option);
  return `${option.help}${range ? `; ${range}` : ''} [env ${envName(option.flag)}] (default: ${shownDefault(option)})`;
}

function configError(problems: string[]): CertstreamError {
  return new CertstreamError('CONFIG_ERR_INVALID', problems.join('\n'));
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

function isReadableFile(path: string): boolean {
  try {
    accessSync(path, constants.R_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
