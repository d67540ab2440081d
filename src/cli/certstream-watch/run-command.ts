/**
 * `certstream-watch run --feed FEED --watch FILE [--db URL] [--webhook URL ...] [--metrics-port PORT]`
 * (interface.md). Every option also reads `CERTWATCH_<FLAG>` (flags win; `CERTWATCH_WEBHOOK` holds
 * space-separated URLs), so the systemd unit is configured in /etc/default/certstream-watch.
 *
 * All input is checked before anything is opened, and every problem is reported at once, one line
 * each: usage errors exit 2; a bad rule (with its line number), database URL or webhook URL exits 78.
 * A database that cannot be opened exits 78 for SQLite (a path or permission problem) and 69 for an
 * unreachable PostgreSQL (systemd retries). SIGTERM/SIGINT: the batch in progress is stored, then exit 0.
 */
import { readFile } from 'node:fs/promises';
import { parseWith, optionalPort, usageError, type Parsed } from '../certaudit/cli-args.js';
import { serveMetrics, type MetricsServer } from '../../audit/compare/audit-metrics.js';
import { resolveFeedSpec } from '../../audit/feeds/feed-source.js';
import { describeError } from '../../errors.js';
import { createLogger } from '../../log/logger.js';
import { parseWatchFile, type Rule } from '../../watch/rules.js';
import { storeExitCode } from './exit-codes.js';
import { idFromWatchFile, SUBSCRIPTION_ID, WatchRunner } from '../../watch/runner.js';
import { DEFAULT_DB, openStore, parseDbUrl, type DbSpec } from '../../watch/store.js';
import { createWatchMetrics } from '../../watch/watch-metrics.js';

/** Where a command writes, and its environment (tests pass their own). */
export interface WatchIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: Record<string, string | undefined>;
}

/** Parsed options of `run` (before the files are read). */
export interface RunOptions {
  feedUrl: string;
  watchFile: string;
  db: string;
  webhooks: string[];
  metricsPort: number | undefined;
  metricsHost: string;
  id: string;
  regexTimeoutMs: number;
  /** Webhook retry timing, ms. */
  webhookTimeoutMs: number;
  webhookBackoffBaseMs: number;
  webhookBackoffMaxMs: number;
}

const USAGE = `Usage: certstream-watch run --feed FEED --watch FILE [--db URL] [--webhook URL ...] [--metrics-port PORT]

Follows a certstream feed as a durable subscription, matches every certificate name against the
watch file's rules, stores each match once (SQLite or PostgreSQL) and POSTs each new match to every
--webhook URL. Runs until SIGINT/SIGTERM. Every flag also reads CERTWATCH_<FLAG>.
Exit codes: 0 clean stop, 2 usage error, 78 invalid watch file, database URL or webhook URL.`;

function pick(raw: Record<string, unknown>, flag: string, env: Record<string, string | undefined>): string | undefined {
  const v = raw[flag];
  if (typeof v === 'string') return v;
  const e = env[`CERTWATCH_${flag.toUpperCase().replace(/-/g, '_')}`];
  return e === undefined || e === '' ? undefined : e;
}

/** Parses the arguments of `run`. */
export function parseRunArgs(argv: string[], env: Record<string, string | undefined>): Promise<Parsed<RunOptions>> {
  return parseWith(
    argv,
    USAGE,
    (y) =>
      y
        .option('feed', { type: 'string', describe: 'feed: local, a ws:// or wss:// URL (CERTWATCH_FEED)', requiresArg: true })
        .option('watch', { type: 'string', describe: 'watch file, one rule a line (CERTWATCH_WATCH)', requiresArg: true })
        .option('db', { type: 'string', describe: `database: sqlite:PATH or postgres://… (default ${DEFAULT_DB})`, requiresArg: true })
        .option('webhook', { type: 'string', array: true, describe: 'POST each new match here (repeatable; CERTWATCH_WEBHOOK space-separated)', requiresArg: true })
        .option('metrics-port', { type: 'string', describe: 'serve Prometheus metrics on this port', requiresArg: true })
        .option('metrics-host', { type: 'string', describe: 'address of the metrics server (default 127.0.0.1)', requiresArg: true })
        .option('id', { type: 'string', describe: 'durable subscription name (default: the watch file name)', requiresArg: true })
        .option('webhook-timeout', { type: 'string', describe: 'deadline of one webhook POST, seconds (default 10)', requiresArg: true })
        .option('webhook-backoff', { type: 'string', describe: 'first retry delay of a failing webhook, seconds (default 1)', requiresArg: true })
        .option('webhook-backoff-max', { type: 'string', describe: 'longest retry delay of a failing webhook, seconds (default 300)', requiresArg: true })
        .option('regex-timeout', { type: 'string', describe: 'time limit of one batch of regex rules, ms (default 1000)', requiresArg: true }),
    (raw) => {
      const feed = pick(raw, 'feed', env);
      const watchFile = pick(raw, 'watch', env);
      if (feed === undefined || watchFile === undefined) throw usageError('--feed FEED and --watch FILE are required');
      const spec = resolveFeedSpec(feed, { CERTAUDIT_LOCAL_URL: env.CERTWATCH_LOCAL_URL ?? env.CERTAUDIT_LOCAL_URL, CERTAUDIT_PUBLIC_URL: env.CERTAUDIT_PUBLIC_URL });
      if (spec.kind !== 'ws') throw usageError(`--feed must be local, public, or a ws:// or wss:// URL, got '${feed}'`);
      const id = pick(raw, 'id', env) ?? idFromWatchFile(watchFile);
      if (!SUBSCRIPTION_ID.test(id)) throw usageError(`--id must be 1-64 of A-Z a-z 0-9 . _ -, got '${id}'`);
      const hooks = Array.isArray(raw.webhook) ? (raw.webhook as unknown[]).map(String) : (env.CERTWATCH_WEBHOOK ?? '').split(/\s+/).filter((s) => s !== '');
      const regexTimeout = pick(raw, 'regex-timeout', env);
      const regexTimeoutMs = regexTimeout === undefined ? 1000 : Number(regexTimeout);
      if (!Number.isInteger(regexTimeoutMs) || regexTimeoutMs < 10) throw usageError(`--regex-timeout must be an integer number of ms >= 10, got '${regexTimeout}'`);
      const seconds = (flag: string, def: number) => {
        const v = pick(raw, flag, env);
        const n = v === undefined ? def : Number(v);
        if (!Number.isFinite(n) || n <= 0) throw usageError(`--${flag} must be a positive number of seconds, got '${v}'`);
        return Math.round(n * 1000);
      };
      return {
        webhookTimeoutMs: seconds('webhook-timeout', 10),
        webhookBackoffBaseMs: seconds('webhook-backoff', 1),
        webhookBackoffMaxMs: seconds('webhook-backoff-max', 300),
        feedUrl: spec.url,
        watchFile,
        db: pick(raw, 'db', env) ?? DEFAULT_DB,
        webhooks: hooks,
        metricsPort: optionalPort(pick(raw, 'metrics-port', env), '--metrics-port'),
        metricsHost: pick(raw, 'metrics-host', env) ?? '127.0.0.1',
        id,
        regexTimeoutMs,
      };
    },
  );
}

/** A webhook URL problem, or undefined when it is a usable http(s) URL. */
export function webhookProblem(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return `--webhook '${url}' is not a valid URL`;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `--webhook '${url}': must be an http:// or https:// URL`;
  return undefined;
}

/** Reads and checks the watch file, database URL and webhook URLs: the rules and db, or every problem. */
export async function loadConfig(o: RunOptions): Promise<{ rules: Rule[]; db: DbSpec } | { problems: string[] }> {
  const problems: string[] = [];
  let rules: Rule[] = [];
  try {
    const parsed = parseWatchFile(await readFile(o.watchFile, 'utf8'));
    rules = parsed.rules;
    for (const p of parsed.problems) problems.push(p.line > 0 ? `${o.watchFile}:${p.line}: ${p.message}` : `${o.watchFile}: ${p.message}`);
  } catch (err) {
    problems.push(`cannot read watch file ${o.watchFile}: ${describeError(err)}`);
  }
  let db: DbSpec | undefined;
  try {
    db = parseDbUrl(o.db);
  } catch (err) {
    problems.push(describeError(err));
  }
  for (const w of o.webhooks) {
    const p = webhookProblem(w);
    if (p) problems.push(p);
  }
  return problems.length > 0 || !db ? { problems } : { rules, db };
}

/** `certstream-watch run`: returns the exit code. */
export async function runWatch(argv: string[], io: WatchIo): Promise<number> {
  const { stdout, stderr } = io;
  const parsed = await parseRunArgs(argv, io.env);
  if ('help' in parsed) {
    stdout.write(parsed.help);
    return 0;
  }
  if ('usage' in parsed) {
    stderr.write(`certstream-watch run: ${parsed.usage.split('\n')[0]}\n`);
    return 2;
  }
  const o = parsed.values;
  const config = await loadConfig(o);
  if ('problems' in config) {
    for (const p of config.problems) stderr.write(`certstream-watch: ${p}\n`);
    return 78;
  }
  let store;
  try {
    store = await openStore(config.db);
  } catch (err) {
    const code = storeExitCode(err);
    if (code === undefined) throw err;
    stderr.write(`certstream-watch: ${describeError(err)}\n`);
    return code;
  }
  const logger = createLogger({ write: (line) => stdout.write(line) });
  const metrics = createWatchMetrics();
  let metricsServer: MetricsServer | undefined;
  if (o.metricsPort !== undefined) {
    try {
      metricsServer = await serveMetrics(metrics.registry, o.metricsPort, o.metricsHost);
      logger.info('metrics listening', { host: o.metricsHost, port: metricsServer.port });
    } catch (err) {
      await store.close();
      stderr.write(`certstream-watch: cannot serve metrics on ${o.metricsHost}:${o.metricsPort}: ${describeError(err)}\n`);
      return 78;
    }
  }
  const runner = new WatchRunner({
    feedUrl: o.feedUrl, id: o.id, rules: config.rules, store, webhooks: o.webhooks, metrics, logger, regexTimeoutMs: o.regexTimeoutMs,
    webhook: { timeoutMs: o.webhookTimeoutMs, baseBackoffMs: o.webhookBackoffBaseMs, maxBackoffMs: o.webhookBackoffMaxMs },
  });
  runner.start();
  const outcome = await new Promise<Error | 'signal' | undefined>((resolve) => {
    const onSignal = () => resolve('signal');
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    void runner.done.then((err) => resolve(err));
  });
  await runner.stop();
  await metricsServer?.close();
  await store.close();
  if (outcome instanceof Error) {
    stderr.write(`certstream-watch: ${describeError(outcome)}\n`);
    return 70;
  }
  logger.info('stopped');
  return 0;
}
