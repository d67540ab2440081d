/**
 * Runs a FakeCtLog on its own (for `npm run demo`, benchmarks and the systemd end-to-end test):
 *   tsx fake-ct-log/cli.ts [--host 127.0.0.1] [--port 0] [--rate 0] [--rfc6962-logs 1] [--static-logs 1]
 *                          [--initial-size 1000] [--max-get-entries 32] [--log-list-file PATH]
 * Prints one JSON line {"base_url":...,"log_list":...} when listening, then runs until SIGTERM/SIGINT.
 */
import { parseArgs } from 'node:util';
import { FakeCtLog } from './fake-ct-log.js';

function num(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) {
    process.stderr.write(`fake-ct-log: --${name} must be a non-negative number, got "${value}"\n`);
    process.exit(2);
  }
  return n;
}

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string' },
    rate: { type: 'string' },
    'rfc6962-logs': { type: 'string' },
    'static-logs': { type: 'string' },
    'initial-size': { type: 'string' },
    'max-get-entries': { type: 'string' },
    'log-list-file': { type: 'string' },
  },
});

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
