#!/usr/bin/env node
/**
 * certstream-server: the streaming daemon's entry point, and the one place that maps outcomes to exit
 * codes (style.md habit 5):
 *   0   after a clean SIGTERM / SIGINT shutdown (stop polling, flush cursors, close clients 1001), < 5 s
 *   78  invalid configuration: bad flag or environment value, unreadable log list or one that selects no
 *       log, unreadable or corrupt cursor file, a state directory that cannot be created or is locked by
 *       another daemon, a port in use or a host that does not resolve (one line per problem; systemd
 *       does not restart on it)
 *   SIGHUP re-reads --tokens and --tls-cert/--tls-key (a bad file: one log line, the old one stays).
 *   1   any fatal runtime error (systemd restarts it), including a shutdown that overran 5 s
 */
import { parseServerArgs } from '../config/parse-args.js';
import { describeError, isCertstreamError } from '../errors.js';
import { createLogger, type Logger } from '../log/logger.js';
import { startServer, type ServerHandle } from '../server.js';
import { acquireStateLock } from '../state/state-lock.js';

const EX_CONFIG = 78;
const SHUTDOWN_DEADLINE_MS = 4500;

function configExit(lines: string[]): never {
  for (const line of lines) process.stderr.write(`certstream-server: ${line}\n`);
  process.exit(EX_CONFIG);
}

async function main(): Promise<void> {
  let outcome;
  try {
    outcome = parseServerArgs(process.argv.slice(2), process.env);
  } catch (err) {
    if (isCertstreamError(err, 'CONFIG_ERR_INVALID')) configExit(err.message.split('\n'));
    throw err;
  }
  if (outcome.kind === 'exit') {
    process.stdout.write(`${outcome.text}\n`);
    process.exit(0);
  }
  const config = outcome.config;
  const logger = createLogger({ level: config.logLevel });
  installFatalHandlers(logger);

  // Before anything else touches the state directory: one daemon per directory.
  let lock;
  try {
    lock = acquireStateLock(config.stateDir);
  } catch (err) {
    if (isCertstreamError(err, 'STATE_ERR_LOCKED', 'STATE_ERR_IO')) configExit([describeError(err)]);
    throw err;
  }
  const held = lock;
  process.on('exit', () => held.release());
  if (lock.tookOverFrom !== undefined) {
    logger.warn('took over a stale state directory lock: its process is gone', { path: lock.path, pid: lock.tookOverFrom });
  }

  let handle: ServerHandle | undefined;
  let stopping = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    logger.info('signal received, shutting down', { signal });
    const deadline = setTimeout(() => {
      logger.error('shutdown did not finish in time, exiting', { deadline_ms: SHUTDOWN_DEADLINE_MS });
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS);
    deadline.unref();
    void (handle?.close() ?? Promise.resolve()).then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error('shutdown failed', { error: describeError(err) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  // SIGHUP (systemctl reload): the tokens file and the TLS pair are read again; nothing else changes.
  process.on('SIGHUP', () => {
    logger.info('signal received, reloading', { signal: 'SIGHUP' });
    handle?.reload();
  });

  try {
    handle = await startServer(config, { logger });
  } catch (err) {
    if (isCertstreamError(err, 'CONFIG_ERR_LOG_LIST', 'CONFIG_ERR_INVALID', 'STATE_ERR_CORRUPT', 'STATE_ERR_IO')) configExit([describeError(err)]);
    logger.error('cannot start', { error: describeError(err), code: (err as { code?: unknown }).code });
    process.exit(1);
  }
  // A signal that arrived during start-up: close what just started.
  if (stopping) await handle.close().then(() => process.exit(0));
}

function installFatalHandlers(logger: Logger): void {
  const fatal = (kind: string) => (err: unknown) => {
    logger.error('fatal error', { kind, error: describeError(err), stack: err instanceof Error ? err.stack : undefined });
    process.exit(1);
  };
  process.on('uncaughtException', fatal('uncaughtException'));
  process.on('unhandledRejection', fatal('unhandledRejection'));
}

main().catch((err: unknown) => {
  process.stderr.write(`certstream-server: fatal: ${describeError(err)}\n`);
  process.exit(1);
});
