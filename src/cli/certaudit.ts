#!/usr/bin/env node
/**
 * certaudit: the companion CLI. Each subcommand parses its own arguments and returns its exit code;
 * only this entry point exits (style.md habit 5).
 *   certaudit compare --a FEED --b FEED ...   exit 0 ran, 2 usage, 69 a feed never reachable
 *   certaudit record --feed FEED --out FILE   exit 0 ran, 2 usage, 69 feed never reachable
 *   certaudit health [--url ...]              Nagios: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN
 */
import { runCompare } from './certaudit/compare-command.js';
import { runRecord } from './certaudit/record-command.js';
import { runHealth } from './certaudit/health-command.js';
import { runSubcommand } from './subcommands.js';

const USAGE = `Usage: certaudit <command> [options]

Commands:
  certaudit compare --a FEED --b FEED   compare two feeds entry by entry on (log, cert_index)
  certaudit record --feed FEED --out FILE   record a feed's entry identities as NDJSON
  certaudit health [--url URL]          probe a running certstream-server (Nagios exit codes)

A FEED is local, public, ct, a ws:// or wss:// URL, or a file written by certaudit record.
Run certaudit <command> --help for the options of a command.
`;

function main(argv: string[]): Promise<number> {
  return runSubcommand('certaudit', USAGE, { compare: runCompare, record: runRecord, health: runHealth }, argv);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`certaudit: fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(70);
  },
);
