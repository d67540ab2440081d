/**
 * Runs a FakeCtLog on its own (for `npm run demo`, benchmarks and the systemd end-to-end test).
 * Prints one JSON line {"base_url":...,"log_list":...} when listening, then runs until SIGTERM/SIGINT.
 * Usage mistakes (an unknown option, a bad number) print one line and exit 2; --help prints USAGE.
 */
import { parseArgs } from 'node:util';
import { FakeCtLog } from './fake-ct-log.js';

const USAGE = `Usage: npm run fake-ct-log -- [options]   (or: tsx fake-ct-log/cli.ts [options])

Serves fake CT logs (RFC 6962 and static-ct-api) built from real CT entries and synthesised
certificates, for the demo, benchmarks and tests. Prints one JSON line with base_url, log_list and
logs once listening; runs until SIGTERM or SIGINT.

Options:
  --host ADDR             bind address (default 127.0.0.1)
  --port N                port (default 0: a free one)
  --rate N                entries appended per second, spread over all logs (default 0: none)
  --rfc6962-logs N        number of RFC 6962 logs (default 1)
  --static-logs N         number of static-ct-api logs (default 1)
  --initial-size N        entries in each log at start (default 1000)
  --max-get-entries N     largest get-entries batch answered (default 32)
  --log-list-file PATH    also write the v3 log list to PATH
  -h, --help              print this help and exit
`;

function usageError(message: string): never {
  process.stderr.write(`fake-ct-log: ${message} (see --help)\n`);
  process.exit(2);
}

function num(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) {
    usageError(`--${name} must be a non-negative number, got "${value}"`);
  }
  return n;
}

function parse(): ReturnType<typeof parseOptions> {
  try {
    return parseOptions();
  } catch (err) {
    // node:util parseArgs throws ERR_PARSE_ARGS_* for unknown options and missing values.
    return usageError((err as Error).message.split('\n')[0] ?? 'invalid arguments');
  }
}

function parseOptions() {
  return parseArgs({
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string' },
      rate: { type: 'string' },
      'rfc6962-logs': { type: 'string' },
      'static-logs': { type: 'string' },
      'initial-size': { type: 'string' },
      'max-get-entries': { type: 'string' },
      'log-list-file': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

const { values } = parse();
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}

const fake = await FakeCtLog.start({
  host: values.host,
  port: num('port', values.port, 0),
  rfc6962Logs: num('rfc6962-logs', values['rfc6962-logs'], 1),
  staticLogs: num('static-logs', values['static-logs'], 1),
  initialSize: num('initial-size', values['initial-size'], 1000),
  maxGetEntries: num('max-get-entries', values['max-get-entries'], 32),
});
if (values['log-list-file']) await fake.writeLogList(values['log-list-file']);
fake.grow(num('rate', values.rate, 0));
process.stdout.write(`${JSON.stringify({ base_url: fake.baseUrl, log_list: fake.logListUrl, logs: fake.logs })}\n`);
const stop = () => void fake.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
