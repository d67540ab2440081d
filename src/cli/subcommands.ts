/**
 * The subcommand switch of the multi-command CLIs (certaudit, certstream-watch): the named commands,
 * plus the built-ins every such tool answers the same way — help (exit 0), --version (exit 0), and a
 * missing or unknown command (usage on stderr, exit 2). Returns the exit code; the entry point exits.
 */
import { VERSION } from '../version.js';

export type Subcommand = (args: string[]) => Promise<number>;

/** Runs `argv[0]` from `commands` with the rest of argv, or a built-in. */
export async function runSubcommand(tool: string, usage: string, commands: Record<string, Subcommand>, argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command !== undefined && Object.hasOwn(commands, command)) return commands[command](rest);
  switch (command) {
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(usage);
      return 0;
    case '--version':
      process.stdout.write(`${VERSION}\n`);
      return 0;
    default:
      process.stderr.write(command === undefined ? usage : `${tool}: unknown command '${command}'\n${usage}`);
      return 2;
  }
}
