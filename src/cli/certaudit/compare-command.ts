/**
 * `certaudit compare --a FEED --b FEED [--duration SECONDS] [--json] [--metrics-port PORT] [--grace SECONDS]`
 * (interface.md). Follows two live feeds (or replays two recordings), then prints the report: a table,
 * or one JSON document with --json. Exit codes: 0 ran, 2 usage error, 69 a feed could never be reached.
 */
import { describeError, isCertstreamError } from '../../errors.js';
import type { AuditMetrics, MetricsServer } from '../../audit/compare/audit-metrics.js';
import { DURATION_BOUNDS, GRACE_BOUNDS, optionalPort, optionalSeconds, parseWith, usageError, valuesOrExit, type Parsed } from './cli-args.js';
import type { FeedId } from '../../audit/compare/comparator.js';
import { DEFAULT_LOG_LIST, resolveFeedSpec, type FeedSpec } from '../../audit/feeds/feed-source.js';
import { accessOptions, defaultIo, feedAccess, makeSource, REACH_TIMEOUT_MS, type CommandIo, type FeedAccess } from './command-support.js';
import { LiveCompare } from '../../audit/compare/live-compare.js';
import { compareRecordings } from '../../audit/recording/recording-replay.js';
import { reportExtras, type AuditReport } from '../../audit/compare/report.js';
import { formatReportTable } from '../../audit/compare/report-table.js';
import { formatStatus, StatusLine } from './status-line.js';
import type { Comparator } from '../../audit/compare/comparator.js';

/** Parsed options of `certaudit compare`. */
export interface CompareOptions {
  feeds: Record<FeedId, { arg: string; spec: FeedSpec; access: FeedAccess }>;
  durationSeconds: number | undefined;
  json: boolean;
  metricsPort: number | undefined;
  metricsHost: string;
  graceSeconds: number;
  /** Log list for the `ct` feed: URL or file. */
  logList: string;
}

const TOKENS = { a: { flag: 'token-a', env: 'CERTAUDIT_TOKEN_A', feed: 'feed a' }, b: { flag: 'token-b', env: 'CERTAUDIT_TOKEN_B', feed: 'feed b' } };

const USAGE = `Usage: certaudit compare --a FEED --b FEED [--duration SECONDS] [--json] [--metrics-port PORT] [--grace SECONDS] [--token-a TOKEN] [--token-b TOKEN] [--ca FILE]

Compares two certstream feeds entry by entry on (log, cert_index) and reports what each one missed.
A FEED is local, public, ct (the CT logs themselves), a ws:// or wss:// URL, or a file written by
certaudit record (then both feeds must be recordings). Without --duration it runs until SIGINT/SIGTERM.
Exit codes: 0 ran, 2 usage error, 69 a feed could never be reached (within 30 s, unless it runs as a
monitor with --metrics-port and no --duration).`;

/** Parses the arguments of `certaudit compare`. */
export function parseCompareArgs(argv: string[], env: Record<string, string | undefined>): Promise<Parsed<CompareOptions>> {
  return parseWith(
    argv,
    USAGE,
    (y) =>
      accessOptions(y, [TOKENS.a, TOKENS.b])
        .option('a', { type: 'string', describe: 'first feed', requiresArg: true })
        .option('b', { type: 'string', describe: 'second feed', requiresArg: true })
        .option('duration', { type: 'string', describe: 'seconds to run (default: until SIGINT/SIGTERM)', requiresArg: true })
        .option('json', { type: 'boolean', describe: 'print the report as one JSON document' })
        .option('metrics-port', { type: 'string', describe: 'serve Prometheus metrics on this port while running', requiresArg: true })
        .option('metrics-host', { type: 'string', describe: 'address of the metrics server (default 127.0.0.1)', requiresArg: true })
        .option('grace', { type: 'string', describe: 'seconds the slower feed gets before an entry is judged (default 60)', requiresArg: true })
        .option('log-list', { type: 'string', describe: 'log list for the ct feed (URL or file; default CERTAUDIT_LOG_LIST or Google\'s list)', requiresArg: true }),
    (raw) => {
      if (typeof raw.a !== 'string' || typeof raw.b !== 'string') throw usageError('--a FEED and --b FEED are required');
      const feeds = {
        a: { arg: raw.a, spec: resolveFeedSpec(raw.a, env), access: feedAccess(raw, env, TOKENS.a) },
        b: { arg: raw.b, spec: resolveFeedSpec(raw.b, env), access: feedAccess(raw, env, TOKENS.b) },
      };
      const kinds = [feeds.a.spec.kind, feeds.b.spec.kind];
      if (kinds.includes('recording') && !(kinds[0] === 'recording' && kinds[1] === 'recording')) {
        throw usageError('a recording can only be compared with another recording');
      }
      if (kinds[0] === 'ct' && kinds[1] === 'ct') throw usageError('at most one feed can be ct');
      const durationSeconds = optionalSeconds(raw.duration, '--duration', DURATION_BOUNDS);
      const graceSeconds = optionalSeconds(raw.grace, '--grace', GRACE_BOUNDS) ?? 60;
      const metricsPort = optionalPort(raw['metrics-port'], '--metrics-port');
      if (metricsPort !== undefined && kinds[0] === 'recording') throw usageError('--metrics-port needs live feeds');
      return {
        feeds,
        durationSeconds,
        json: raw.json === true,
        metricsPort,
        metricsHost: typeof raw['metrics-host'] === 'string' ? raw['metrics-host'] : '127.0.0.1',
        graceSeconds,
        logList: typeof raw['log-list'] === 'string' ? raw['log-list'] : env.CERTAUDIT_LOG_LIST || DEFAULT_LOG_LIST,
      };
    },
  );
}

function printReport(io: CommandIo, report: AuditReport, cmp: Comparator, o: CompareOptions, judgedInFull = false): void {
  io.stdout.write(o.json ? `${JSON.stringify(report)}\n` : formatReportTable(report, reportExtras(cmp, o.graceSeconds, judgedInFull)));
}

/** Resolves on SIGINT/SIGTERM, after `ms` (when given), or when `extra` resolves; returns what happened. */
function waitForEnd(ms: number | undefined, extra: Promise<'unreachable'>): Promise<'signal' | 'duration' | 'unreachable'> {
  return new Promise((resolve) => {
    const timers: NodeJS.Timeout[] = [];
    const done = (why: 'signal' | 'duration' | 'unreachable') => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      for (const t of timers) clearTimeout(t);
      resolve(why);
    };
    const onSignal = () => done('signal');
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    if (ms !== undefined) timers.push(setTimeout(() => done('duration'), ms));
    void extra.then(done);
  });
}

/** `certaudit compare`: returns the exit code (0 ran, 2 usage, 69 a feed never reachable). */
export async function runCompare(argv: string[], io: CommandIo = defaultIo()): Promise<number> {
  const parsed = await parseCompareArgs(argv, io.env);
  const args = valuesOrExit(parsed, 'certaudit compare', io);
  if ('exit' in args) return args.exit;
  const o = args.values;
  if (o.feeds.a.spec.kind === 'recording' && o.feeds.b.spec.kind === 'recording') {
    try {
      const { report, comparator } = await compareRecordings(o.feeds.a.spec.path, o.feeds.b.spec.path, o.graceSeconds * 1000);
      printReport(io, report, comparator, o);
      return 0;
    } catch (err) {
      if (!isCertstreamError(err, 'AUDIT_ERR_BAD_RECORDING')) throw err;
      io.stderr.write(`certaudit compare: ${describeError(err)}\n`);
      return 2;
    }
  }
  const sources = { a: await makeSource(o.feeds.a.spec, o.logList, o.feeds.a.access), b: await makeSource(o.feeds.b.spec, o.logList, o.feeds.b.access) };
  const labels = {
    a: o.feeds.a.arg,
    b: o.feeds.b.arg === o.feeds.a.arg ? `${o.feeds.b.arg} (b)` : o.feeds.b.arg,
  };
  const metricsRef: { m?: AuditMetrics } = {};
  const reference = o.feeds.a.spec.kind === 'ct' ? 'a' : o.feeds.b.spec.kind === 'ct' ? 'b' : undefined;
  const live = new LiveCompare({
    sources,
    ...(reference ? { reference } : {}),
    graceMs: o.graceSeconds * 1000,
    onEvent: (feed, e) => metricsRef.m?.onEvent(feed, e),
    onJudge: (d) => metricsRef.m?.onJudge(d),
  });
  const cmp = live.comparator;
  let metricsServer: MetricsServer | undefined;
  if (o.metricsPort !== undefined) {
    const { createAuditMetrics, serveMetrics } = await import('../../audit/compare/audit-metrics.js');
    metricsRef.m = createAuditMetrics(cmp, labels);
    try {
      metricsServer = await serveMetrics(metricsRef.m.registry, o.metricsPort, o.metricsHost);
    } catch (err) {
      io.stderr.write(`certaudit compare: cannot listen on ${o.metricsHost}:${o.metricsPort}: ${describeError(err)}\n`);
      return 2;
    }
    io.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'info', msg: 'metrics listening', host: o.metricsHost, port: metricsServer.port })}\n`);
  }
  const status = new StatusLine(() => {
    const report = live.report();
    return formatStatus((Date.now() - live.startMs) / 1000, (['a', 'b'] as FeedId[]).map((id) => ({
      name: id, up: sources[id].up, entries: cmp.entries[id], missed: report.totals[id === 'a' ? 'missed_by_a' : 'missed_by_b'],
    })));
  }, io.stderr);
  live.start();
  status.start();
  const durationMs = o.durationSeconds === undefined ? undefined : o.durationSeconds * 1000;
  const monitor = o.metricsPort !== undefined && durationMs === undefined;
  const reachMs = Math.min(REACH_TIMEOUT_MS, durationMs ?? Infinity);
  let reachTimer: NodeJS.Timeout | undefined;
  const unreachable = new Promise<'unreachable'>((resolve) => {
    if (monitor) return;
    reachTimer = setTimeout(() => {
      if (!live.bothReached) resolve('unreachable');
    }, Math.max(0, reachMs - 1));
  });
  const why = await waitForEnd(durationMs, unreachable);
  if (reachTimer) clearTimeout(reachTimer);
  // A --duration run is judged in full (interface.md); a stopped monitor judges what the grace allows.
  const judgedInFull = why === 'duration' && live.bothReached;
  let report: AuditReport;
  if (judgedInFull) {
    // The status line keeps running while the feeds are followed past the window (up to --grace);
    // SIGINT/SIGTERM meanwhile cuts that wait short and still prints the report.
    const cut = new AbortController();
    const onSignal = () => cut.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      report = await live.finish(o.graceSeconds * 1000, cut.signal, () =>
        io.stderr.write(
          `certaudit compare: the ${o.durationSeconds} s window is over; following the feeds up to ${o.graceSeconds} s more ` +
            'so its last entries are judged fairly (SIGINT to stop now)\n',
        ),
      );
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  } else {
    report = await live.stop();
  }
  status.stop();
  await metricsServer?.close();
  const never = (['a', 'b'] as FeedId[]).filter((id) => !sources[id].everConnected);
  if (never.length > 0 && (why !== 'signal' || !monitor)) {
    for (const id of never) {
      const err = sources[id].lastError;
      io.stderr.write(`certaudit compare: feed ${id} (${sources[id].url}) could not be reached${err ? `: ${err}` : ''}\n`);
    }
    return 69;
  }
  printReport(io, report, cmp, o, judgedInFull);
  return 0;
}
