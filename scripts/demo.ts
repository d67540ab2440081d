/**
 * `npm run demo`: the whole product without internet access. Starts the bundled fake CT log (one
 * RFC 6962 and one static-ct-api log serving real CT entries, growing at a visible rate) and the real
 * server pointed at it, then prints where to connect. Ctrl-C stops both.
 *
 * Environment: PORT (default 4000), DEMO_RATE (entries per second over both logs, default 20).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeCtLog } from '../fake-ct-log/fake-ct-log.js';
import { validateConfig } from '../src/config/server-config.js';
import { createLogger } from '../src/log/logger.js';
import { startServer } from '../src/server.js';

async function main(): Promise<void> {
  const port = process.env.PORT ?? '4000';
  const rate = Number(process.env.DEMO_RATE ?? '20');
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
