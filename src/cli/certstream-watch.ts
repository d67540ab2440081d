#!/usr/bin/env node
/**
 * certstream-watch: watch-list alerting on a certstream feed (interface.md, "certstream-watch").
 * Each subcommand returns its exit code; only this entry point exits (style.md habit 5).
 *   certstream-watch run --feed FEED --watch FILE ...   0 clean stop, 2 usage, 78 invalid configuration
 *   certstream-watch export [--db URL] ...              0, 2 usage, 78 invalid database
 *   certstream-watch test --watch FILE NAME...          0 a name matched, 1 none, 2 usage, 78 invalid watch file
 */
import { runExport } from './certstream-watch/export-command.js';
import { runWatch } from './certstream-watch/run-command.js';
import { runTest } from './certstream-watch/test-command.js';
import { runSubcommand } from './subcommands.js';

const USAGE = `Usage: certstream-watch <command> [options]

Commands:
  certstream-watch run --feed FEED --watch FILE [--db URL] [--webhook URL ...] [--hook PATH ...] [--metrics-port PORT]
  certstream-watch export [--db URL] [--since ISO-DATE] [--format csv|json] [--dead-letters]
  certstream-watch test --watch FILE NAME...

Run certstream-watch <command> --help for the options of a command.
`;

function main(argv: string[]): Promise<number> {
  const io = { stdout: process.stdout, stderr: process.stderr, env: process.env };
  return runSubcommand('certstream-watch', USAGE, {
    run: (args) => runWatch(args, io), export: (args) => runExport(args, io), test: (args) => runTest(args, io),
  }, argv);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // The regex worker and pg's pool are closed by the commands; nothing else should keep the process
    // up, and if something does (a socket an endpoint holds open), a stop still ends promptly.
    if (code !== 0) process.exit(code);
    setTimeout(() => process.exit(code), 1_000).unref();
  },
  (err: unknown) => {
    process.stderr.write(`certstream-watch: fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(70);
  },
);
