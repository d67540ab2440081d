/**
 * `certaudit record --feed FEED --out FILE [--duration SECONDS]` (interface.md): writes what a feed
 * delivered — entry identities, arrival times, connection events — as NDJSON (format in feed-event.ts),
 * flushed at least every second, so `certaudit compare` can run later on two recordings.
 * Exit codes: 0 ran, 2 usage error (or the file cannot be written), 69 the feed could never be reached.
 */
import { describeError, isCertstreamError } from '../../errors.js';
import { DURATION_BOUNDS, optionalSeconds, parseWith, usageError, valuesOrExit, type Parsed } from './cli-args.js';
import { accessOptions, feedAccess, makeSource, REACH_TIMEOUT_MS, type CommandIo, type FeedAccess } from './command-support.js';
import { DEFAULT_LOG_LIST, resolveFeedSpec, type FeedSpec } from '../../audit/feeds/feed-source.js';
import { Recorder } from '../../audit/recording/recorder.js';
import { formatStatus, StatusLine } from './status-line.js';

/** Parsed options of `certaudit record`. */
export interface RecordOptions {
  feed: FeedSpec;
  out: string;
  durationSeconds: number | undefined;
  logList: string;
  /** Token and CA of a server with access control. */
  access: FeedAccess;
}

const TOKEN = { flag: 'token', env: 'CERTAUDIT_TOKEN', feed: 'the feed' };

const USAGE = `Usage: certaudit record --feed FEED --out FILE [--duration SECONDS] [--token TOKEN] [--ca FILE]

Records what a feed delivers (entry identities, arrival times, connection events) as newline-delimited
JSON, flushed at least every second. Compare two recordings later with
certaudit compare --a A.ndjson --b B.ndjson. Without --duration it runs until SIGINT/SIGTERM.
Exit codes: 0 ran, 2 usage error, 69 the feed could never be reached (within 30 s).`;

/** Parses the arguments of `certaudit record`. */
export function parseRecordArgs(argv: string[], env: Record<string, string | undefined>): Promise<Parsed<RecordOptions>> {
  return parseWith(
    argv,
    USAGE,
    (y) =>
      accessOptions(y, [TOKEN])
        .option('feed', { type: 'string', describe: 'feed to record: local, public, ct, ws:// or wss:// URL', requiresArg: true })
        .option('out', { type: 'string', describe: 'output file (created or truncated)', requiresArg: true })
        .option('duration', { type: 'string', describe: 'seconds to record (default: until SIGINT/SIGTERM)', requiresArg: true })
        .option('log-list', { type: 'string', describe: 'log list for the ct feed (URL or file)', requiresArg: true }),
    (raw) => {
      if (typeof raw.feed !== 'string' || typeof raw.out !== 'string' || raw.out === '') {
        throw usageError('--feed FEED and --out FILE are required');
      }
      const feed = resolveFeedSpec(raw.feed, env);
      if (feed.kind === 'recording') throw usageError(`--feed must be a live feed (local, public, ct or a ws:// URL), got '${raw.feed}'`);
      return {
        feed,
        out: raw.out,
        durationSeconds: optionalSeconds(raw.duration, '--duration', DURATION_BOUNDS),
        logList: typeof raw['log-list'] === 'string' ? raw['log-list'] : env.CERTAUDIT_LOG_LIST || DEFAULT_LOG_LIST,
        access: feedAccess(raw, env, TOKEN),
      };
    },
  );
}

/** `certaudit record`: returns the exit code. */
export async function runRecord(argv: string[], io?: CommandIo): Promise<number> {
  const { stdout, stderr, env } = io ?? { stdout: process.stdout, stderr: process.stderr, env: process.env };
  const parsed = await parseRecordArgs(argv, env);
  const args = valuesOrExit(parsed, 'certaudit record', { stdout, stderr });
  if ('exit' in args) return args.exit;
  const o = args.values;
  const source = await makeSource(o.feed, o.logList, o.access);
  let recorder: Recorder;
  try {
    recorder = await Recorder.start({ source, out: o.out });
  } catch (err) {
    if (!isCertstreamError(err, 'STATE_ERR_IO')) throw err;
    stderr.write(`certaudit record: ${describeError(err)}\n`);
    return 2;
  }
  const started = Date.now();
  const status = new StatusLine(
    () => formatStatus((Date.now() - started) / 1000, [{ name: source.url, up: source.up, entries: recorder.entries }]),
    stderr,
  );
  status.start();
  const durationMs = o.durationSeconds === undefined ? undefined : o.durationSeconds * 1000;
  const why = await new Promise<'end' | 'unreachable'>((resolve) => {
    const timers: NodeJS.Timeout[] = [];
    const done = (w: 'end' | 'unreachable') => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      for (const t of timers) clearTimeout(t);
      resolve(w);
    };
    const onSignal = () => done('end');
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    if (durationMs !== undefined) timers.push(setTimeout(() => done('end'), durationMs));
    timers.push(
      setTimeout(() => {
        if (!source.everConnected) done('unreachable');
      }, Math.max(0, Math.min(REACH_TIMEOUT_MS, durationMs ?? Infinity) - 1)),
    );
  });
  status.stop();
  try {
    await recorder.stop();
  } catch (err) {
    if (!isCertstreamError(err, 'STATE_ERR_IO')) throw err;
    stderr.write(`certaudit record: ${describeError(err)}\n`);
    return 2;
  }
  if (why === 'unreachable' || !source.everConnected) {
    stderr.write(`certaudit record: feed ${source.url} could not be reached${source.lastError ? `: ${source.lastError}` : ''}\n`);
    return 69;
  }
  stderr.write(`certaudit record: ${recorder.entries} entries written to ${o.out}\n`);
  return 0;
}
