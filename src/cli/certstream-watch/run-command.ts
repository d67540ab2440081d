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
import { accessSync, constants, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseWith, optionalPort, usageError, valuesOrExit, type Parsed } from '../certaudit/cli-args.js';
import { serveMetrics, type MetricsServer } from '../../audit/compare/audit-metrics.js';
import { resolveFeedSpec } from '../../audit/feeds/feed-source.js';
import { readCaFile } from '../../client/trust.js';
import { describeError } from '../../errors.js';
import { createLogger } from '../../log/logger.js';
import { parseWatchFile, type Rule } from '../../watch/rules.js';
import { storeExitCode } from './exit-codes.js';
import { fullStreamUrl, idFromWatchFile, SUBSCRIPTION_ID, WatchRunner } from '../../watch/runner.js';
import { DEFAULT_DB, openStore, parseDbUrl, type DbSpec } from '../../watch/store.js';
import { createWatchMetrics } from '../../watch/watch-metrics.js';
import type { DeliveryTarget } from '../../watch/delivery-target.js';
import { HookTarget } from '../../watch/hook-target.js';
import { redactUrl } from '../../watch/redact.js';
import { WebhookTarget } from '../../watch/webhook-target.js';

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
  /** Hook executables (absolute paths). */
  hooks: string[];
  hookTimeoutMs: number;
  /** How long a failing delivery is retried, ms. */
  deliveryMaxAgeMs: number;
  metricsPort: number | undefined;
  metricsHost: string;
  id: string;
  regexTimeoutMs: number;
  /** Webhook retry timing, ms. */
  webhookTimeoutMs: number;
  webhookBackoffBaseMs: number;
  webhookBackoffMaxMs: number;
  /** Access token of a server with --tokens. */
  token?: string;
  /** PEM of a CA to trust for wss:// besides the system's. */
  ca?: Buffer;
}

const USAGE = `Usage: certstream-watch run --feed FEED --watch FILE [--db URL] [--webhook URL ...] [--hook PATH ...] [--metrics-port PORT]

Follows a certstream feed as a durable subscription, matches every certificate name against the
watch file's rules, stores each match once (SQLite or PostgreSQL), POSTs each new match to every
--webhook URL and runs every --hook with it. Failed deliveries are retried for --delivery-max-age,
then kept as dead letters (export --dead-letters). SIGHUP re-reads the watch file. Runs until
SIGINT/SIGTERM. Every flag also reads CERTWATCH_<FLAG>.
Exit codes: 0 clean stop, 2 usage error, 78 invalid watch file, database URL, webhook URL or hook.`;

/** How long a stop may take before the process gives up waiting (interface.md: within 10 s). */
const STOP_BUDGET_MS = 8_000;

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
        .option('hook', { type: 'string', array: true, describe: 'run this executable per new match (repeatable; CERTWATCH_HOOK space-separated)', requiresArg: true })
        .option('hook-timeout', { type: 'string', describe: 'time limit of one hook run, seconds (default 30)', requiresArg: true })
        .option('delivery-max-age', { type: 'string', describe: 'retry a failing delivery this long, seconds (default 86400), then keep it as a dead letter', requiresArg: true })
        .option('token', { type: 'string', describe: 'access token of a server with --tokens (better: CERTWATCH_TOKEN; a flag shows in ps)', requiresArg: true })
        .option('ca', { type: 'string', describe: "PEM file of a CA to trust for wss:// besides the system's (CERTWATCH_CA, or NODE_EXTRA_CA_CERTS)", requiresArg: true })
        .option('regex-timeout', { type: 'string', describe: 'time limit of one batch of regex rules, ms (default 1000)', requiresArg: true }),
    (raw) => {
      const feed = pick(raw, 'feed', env);
      const watchFile = pick(raw, 'watch', env);
      if (feed === undefined || watchFile === undefined) throw usageError('--feed FEED and --watch FILE are required');
      const spec = resolveFeedSpec(feed, { CERTAUDIT_LOCAL_URL: env.CERTWATCH_LOCAL_URL ?? env.CERTAUDIT_LOCAL_URL, CERTAUDIT_PUBLIC_URL: env.CERTAUDIT_PUBLIC_URL });
      if (spec.kind !== 'ws') throw usageError(`--feed must be local, public, or a ws:// or wss:// URL, got '${feed}'`);
      const id = pick(raw, 'id', env) ?? idFromWatchFile(watchFile);
      if (!SUBSCRIPTION_ID.test(id)) throw usageError(`--id must be 1-64 of A-Z a-z 0-9 . _ -, got '${id}'`);
      const list = (flag: string) => {
        const v = raw[flag];
        return Array.isArray(v) ? v.map(String) : (env[`CERTWATCH_${flag.toUpperCase()}`] ?? '').split(/\s+/).filter((s) => s !== '');
      };
      const caFile = pick(raw, 'ca', env);
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
        hooks: list('hook').map((p) => resolve(p)),
        hookTimeoutMs: seconds('hook-timeout', 30),
        deliveryMaxAgeMs: seconds('delivery-max-age', 86_400),
        feedUrl: fullStreamUrl(spec.url),
        watchFile,
        db: pick(raw, 'db', env) ?? DEFAULT_DB,
        webhooks: list('webhook'),
        metricsPort: optionalPort(pick(raw, 'metrics-port', env), '--metrics-port'),
        metricsHost: pick(raw, 'metrics-host', env) ?? '127.0.0.1',
        id,
        regexTimeoutMs,
        token: pick(raw, 'token', env),
        ca: caFile === undefined ? undefined : readCaFile(caFile, 'AUDIT_ERR_USAGE'),
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
    return `--webhook '${redactUrl(url)}' is not a valid URL`;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `--webhook '${redactUrl(url)}': must be an http:// or https:// URL`;
  return undefined;
}

/** A hook problem, or undefined when it is an executable file. */
export function hookProblem(path: string): string | undefined {
  try {
    if (!statSync(path).isFile()) return `--hook '${path}' is not a file`;
    accessSync(path, constants.X_OK);
  } catch (err) {
    return `--hook '${path}': ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : 'not executable'}`;
  }
  return undefined;
}

/** Reads and checks a watch file: its rules, or one line per problem (`FILE:LINE: message`). */
export async function readWatchFile(file: string): Promise<{ rules: Rule[] } | { problems: string[] }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    return { problems: [`cannot read watch file ${file}: ${describeError(err)}`] };
  }
  const parsed = parseWatchFile(text);
  if (parsed.problems.length === 0) return { rules: parsed.rules };
  return { problems: parsed.problems.map((p) => (p.line > 0 ? `${file}:${p.line}: ${p.message}` : `${file}: ${p.message}`)) };
}

/** Reads and checks the watch file, database URL and webhook URLs: the rules and db, or every problem. */
export async function loadConfig(o: RunOptions): Promise<{ rules: Rule[]; db: DbSpec } | { problems: string[] }> {
  const problems: string[] = [];
  let rules: Rule[] = [];
  const w = await readWatchFile(o.watchFile);
  if ('rules' in w) rules = w.rules;
  else problems.push(...w.problems);
  let db: DbSpec | undefined;
  try {
    db = parseDbUrl(o.db);
  } catch (err) {
    problems.push(describeError(err));
  }
  for (const url of o.webhooks) {
    const p = webhookProblem(url);
    if (p) problems.push(p);
  }
  for (const path of o.hooks) {
    const p = hookProblem(path);
    if (p) problems.push(p);
  }
  return problems.length > 0 || !db ? { problems } : { rules, db };
}

/** `certstream-watch run`: returns the exit code. */
export async function runWatch(argv: string[], io: WatchIo): Promise<number> {
  const { stdout, stderr } = io;
  const parsed = await parseRunArgs(argv, io.env);
  const args = valuesOrExit(parsed, 'certstream-watch run', { stdout, stderr });
  if ('exit' in args) return args.exit;
  const o = args.values;
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
    stderr.write(`certstream-watch: ${redactUrl(describeError(err))}\n`);
    return code;
  }
  // Every log line passes through the redaction (redact.ts), whatever a field holds.
  const logger = createLogger({ write: (line) => stdout.write(redactUrl(line)) });
  const metrics = createWatchMetrics();
  // SIGHUP: the watch file again; an invalid one is refused (same lines as at start) and the old rules
  // stay. Handled from here on (its default action ends the process); one that arrives before the
  // runner exists is applied as soon as it does.
  let runner: WatchRunner | undefined = undefined;
  let hupEarly = false;
  let reloading = Promise.resolve();
  const onHup = () => {
    if (!runner) {
      hupEarly = true;
      return;
    }
    const r = runner;
    reloading = reloading.then(async () => {
      const w = await readWatchFile(o.watchFile);
      if ('problems' in w) {
        for (const p of w.problems) stderr.write(`certstream-watch: ${p}\n`);
        logger.error('watch file refused; the previous rules stay in force', { file: o.watchFile, problems: w.problems });
        return;
      }
      r.reload(w.rules);
      logger.info('watch file reloaded', { file: o.watchFile, rules: w.rules.length });
    });
  };
  process.on('SIGHUP', onHup);
  let metricsServer: MetricsServer | undefined;
  if (o.metricsPort !== undefined) {
    try {
      metricsServer = await serveMetrics(metrics.registry, o.metricsPort, o.metricsHost);
      logger.info('metrics listening', { host: o.metricsHost, port: metricsServer.port });
    } catch (err) {
      process.off('SIGHUP', onHup);
      await store.close();
      stderr.write(`certstream-watch: cannot serve metrics on ${o.metricsHost}:${o.metricsPort}: ${describeError(err)}\n`);
      return 78;
    }
  }
  const targets: DeliveryTarget[] = [
    ...[...new Set(o.webhooks)].map((u) => new WebhookTarget(u, o.webhookTimeoutMs)),
    ...[...new Set(o.hooks)].map((p) => new HookTarget(p, o.hookTimeoutMs)),
  ];
  runner = new WatchRunner({
    feedUrl: o.feedUrl, id: o.id, rules: config.rules, store, targets, metrics, logger, regexTimeoutMs: o.regexTimeoutMs,
    delivery: { baseBackoffMs: o.webhookBackoffBaseMs, maxBackoffMs: o.webhookBackoffMaxMs, maxAgeMs: o.deliveryMaxAgeMs },
    feed: { token: o.token, ca: o.ca },
  });
  runner.start();
  if (hupEarly) onHup();
  const started = runner;
  const outcome = await new Promise<Error | 'signal' | undefined>((resolve) => {
    const onSignal = () => resolve('signal');
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    void started.done.then((err) => resolve(err));
  });
  process.off('SIGHUP', onHup);
  // Whatever an endpoint or hook does, a stop ends within the budget (deliveries in flight are aborted
  // and stay pending; a batch that did not finish is replayed by the server next time).
  let budget: NodeJS.Timeout | undefined;
  const late = await Promise.race([
    (async () => {
      await started.stop();
      await metricsServer?.close();
      await store.close();
      return false;
    })(),
    new Promise<boolean>((resolve) => (budget = setTimeout(() => resolve(true), STOP_BUDGET_MS))),
  ]);
  clearTimeout(budget);
  if (late) logger.warn('stop took too long; exiting without waiting further', { budget_ms: STOP_BUDGET_MS });
  if (outcome instanceof Error) {
    stderr.write(`certstream-watch: ${redactUrl(describeError(outcome))}\n`);
    return 70;
  }
  logger.info('stopped');
  return late ? 70 : 0;
}
