/**
 * `npm run demo`: the whole product without internet access. Starts the bundled fake CT log (one
 * RFC 6962 and one static-ct-api log serving real CT entries, growing at a visible rate) and the real
 * server pointed at it, then prints where to connect. Ctrl-C stops both.
 *
 * Flags (or environment): --port N (PORT, default 4000), --rate N (DEMO_RATE: entries per second over
 * both logs, default 20). `npm run demo -- --port 4100` passes them through npm.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { FakeCtLog } from '../fake-ct-log/fake-ct-log.js';
import { validateConfig } from '../src/config/server-config.js';
import { createLogger } from '../src/log/logger.js';
import { startServer } from '../src/server.js';

const USAGE = 'usage: npm run demo -- [--port N] [--rate ENTRIES_PER_SECOND]';

/** The demo's flags, falling back to PORT and DEMO_RATE; exits 2 with one line on a mistake. */
function demoOptions(): { port: string; rate: number } {
  let values: { port?: string; rate?: string };
  try {
    ({ values } = parseArgs({ options: { port: { type: 'string' }, rate: { type: 'string' } }, strict: true }));
  } catch (err) {
    process.stderr.write(`demo: ${err instanceof Error ? err.message : String(err)}\n${USAGE}\n`);
    process.exit(2);
  }
  const rate = Number(values.rate ?? process.env.DEMO_RATE ?? '20');
  if (!Number.isFinite(rate) || rate < 0) {
    process.stderr.write(`demo: --rate must be a number of entries per second >= 0\n${USAGE}\n`);
    process.exit(2);
  }
  return { port: values.port ?? process.env.PORT ?? '4000', rate };
}

async function main(): Promise<void> {
  const { port, rate } = demoOptions();
  const fake = await FakeCtLog.start({ rfc6962Logs: 1, staticLogs: 1, initialSize: 1000 });
  const stateDir = await mkdtemp(join(tmpdir(), 'certstream-demo-'));
  const checked = validateConfig({
    host: '127.0.0.1',
    port,
    'log-list': fake.logListUrl,
    'state-dir': stateDir,
    backfill: '10',
    'poll-interval': '1',
  });
  if (!checked.ok) {
    for (const p of checked.problems) process.stderr.write(`demo: ${p}\n`);
    process.exit(78);
  }
  const logger = createLogger({ level: 'info' });
  // A static-ct-api log publishes a partial tile only after a delay; 3 s keeps the demo lively.
  const server = await startServer(checked.config, { logger, ingest: { partialTileDelayMs: 3000 } });
  fake.grow(rate);
  const ws = server.url.replace('http:', 'ws:');
  process.stderr.write(
    [
      '',
      `certstream-server demo: a fake CT log (${fake.baseUrl}) grows by ${rate} entries/s over ${fake.logs.length} logs.`,
      `  lite stream      ${ws}/`,
      `  full stream      ${ws}/full-stream`,
      `  domains only     ${ws}/domains-only`,
      `  in a browser     ${server.url}/   (live dashboard), ${server.url}/latest.json, ${server.url}/healthz, ${server.url}/metrics`,
      `  probe it         npx tsx src/cli/certaudit.ts health --url ${server.url}`,
      '  Ctrl-C stops it.',
      '',
    ].join('\n') + '\n',
  );
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    fake.grow(0);
    await server.close();
    await fake.close();
    await rm(stateDir, { recursive: true, force: true });
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

main().catch((err: unknown) => {
  process.stderr.write(`demo: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
