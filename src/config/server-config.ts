/**
 * The daemon's configuration: its shape and the pure validation that turns raw strings (from flags or
 * CERTSTREAM_* environment variables) into a typed `ServerConfig`, driven by the options table
 * (options.ts: defaults, bounds, help).
 *
 * Validation reports every problem at once, one line each (style.md habit 4): an operator who got two
 * values wrong fixes both after one attempt. Reading argv and the environment lives in parse-args.ts.
 */
import type { Level } from '../log/logger.js';
import { OPTIONS, describeRange, type OptionSpec } from './options.js';

export { DEFAULT_LOG_LIST } from '../ct/log-list.js';
export { OPTIONS, envName, type OptionSpec } from './options.js';

export interface ServerConfig {
  /** Bind address. */
  host: string;
  /** HTTP + WebSocket port; 0 picks a free one. */
  port: number;
  /** URL (http/https) or file path of a v3 log list. */
  logList: string;
  /** Directory of the cursor file. */
  stateDir: string;
  /** Entries behind the head to start at for a log without a saved cursor. */
  backfill: number;
  /** How often each log's head is checked, milliseconds. */
  pollIntervalMs: number;
  /** User-Agent sent to the logs. */
  userAgent: string;
  /** Heartbeat frames on `/` and `/full-stream`, milliseconds; 0 = off. */
  heartbeatIntervalMs: number;
  /** Follow only logs whose url or description matches one of these (empty = all). */
  logsInclude: RegExp[];
  /** Never follow logs whose url or description matches one of these. */
  logsExclude: RegExp[];
  /** Per-client byte budget (socket buffer + queued frames); frames over it are dropped. */
  clientBufferBytes: number;
  /** Bytes queued for all clients together; beyond it the clients holding the most are closed as slow. */
  clientsMemoryBytes: number;
  /** A client over its budget for this long is closed, milliseconds. */
  slowClientTimeoutMs: number;
  /** Protocol ping period for finding dead peers, milliseconds; 0 = off. */
  pingIntervalMs: number;
  /** Offer permessage-deflate (costs CPU per client; off by default). */
  perMessageDeflate: boolean;
  /** Largest accepted client frame, bytes (clients only send pings and small texts). */
  maxPayloadBytes: number;
  /** Most TCP connections (HTTP and WebSocket) open at once; further ones are closed at once and counted. */
  maxConnections: number;
  /** `/healthz`: a log with a larger lag counts as unhealthy. */
  maxLag: number;
  /** Lowest log level written. */
  logLevel: Level;
  /** static-ct-api: how long the right-most tile must stay partial before it is read, milliseconds. */
  partialTileDelayMs: number;
  /** Verify every log's heads and entries (interface.md "Verified logs"). */
  verify: boolean;
  /** Log list re-read period, milliseconds; 0 = never. */
  logListRefreshMs: number;
  /** Returns of unused memory to the OS (server/memory-release.ts), milliseconds apart; 0 = off. */
  memoryReleaseIntervalMs: number;
  /** Ignore the saved cursors and start every log afresh (deliberately; never done silently). */
  resetState: boolean;
  /** How long published frames stay replayable, milliseconds; 0 = no replay window (no `id`/`since`). */
  replayWindowMs: number;
  /** Disk cap of the replay window, bytes. */
  replayWindowBytes: number;
  /** Pings that confirm a durable client's position, milliseconds. */
  durablePingIntervalMs: number;
  /** A durable position neither confirmed nor used for this long is forgotten, milliseconds; 0 = never. */
  durableExpireMs: number;
  /** Most durable positions (NAME and stream) kept; a new NAME beyond is refused with 503. */
  maxDurableSubscriptions: number;
  /** Start even when no log is selected (otherwise that is a configuration error). */
  allowEmpty: boolean;
  /** NATS server URLs, comma-separated; '' = no NATS (one process, local replay window). */
  nats: string;
  /** With NATS: follow logs and publish, serve clients from the stream, or both. */
  role: 'all' | 'ingest' | 'edge';
  /** JetStream stream name. */
  natsStream: string;
  /** Replicas of the stream and buckets this node creates. */
  natsReplicas: number;
  /** PEM certificate (chain) file; '' = plain HTTP. */
  tlsCert: string;
  /** PEM private key file of `tlsCert`; '' with it. */
  tlsKey: string;
  /** Tokens file; '' = open (no token needed). */
  tokens: string;
  /** CIDR list of accepted peers; '' = every address. */
  allowFrom: string;
  /** With `tokens`: /metrics and /status.json need a token too. */
  protectMetrics: boolean;
}

/** Raw values keyed by flag name; lists as arrays of strings. Missing keys take their defaults. */
export type RawConfig = Partial<Record<string, string | readonly string[] | boolean>>;

export interface ValidationContext {
  /** For the `--state-dir` default. */
  env?: Record<string, string | undefined>;
  /** Checks that a log list file can be read; omitted = not checked. */
  isReadableFile?: (path: string) => boolean;
}

export type ValidationResult = { ok: true; config: ServerConfig } | { ok: false; problems: string[] };

/**
 * Turns raw values into a ServerConfig, or lists every problem (one line each, naming the flag and the
 * value). Missing values take the table's defaults. Pure apart from the optional `isReadableFile` probe.
 */
export function validateConfig(raw: RawConfig, context: ValidationContext = {}): ValidationResult {
  const problems: string[] = [];
  const config: Record<string, unknown> = {};
  for (const option of OPTIONS) {
    const value = convert(option, rawValue(option, raw, context), problems);
    if (value !== undefined) config[option.key] = value;
  }
  if (typeof config.logList === 'string') {
    const problem = checkLogList(config.logList, context);
    if (problem) problems.push(`--log-list: ${problem}`);
  }
  if (config.nats !== '' && config.nats !== undefined && config.replayWindowMs === 0) {
    problems.push('--nats: needs a replay window (--replay-window > 0): the JetStream stream is the window');
  }
  if (config.nats === '' && config.role !== undefined && config.role !== 'all') {
    problems.push(`--role ${String(config.role)}: needs --nats (without NATS one process does everything)`);
  }
  if ((config.tlsCert === '') !== (config.tlsKey === '') && config.tlsCert !== undefined && config.tlsKey !== undefined) {
    problems.push(config.tlsCert === '' ? '--tls-key: needs --tls-cert' : '--tls-cert: needs --tls-key');
  }
  if (config.protectMetrics === true && config.tokens === '') problems.push('--protect-metrics: needs --tokens (the token file says who may read them)');
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, config: config as unknown as ServerConfig };
}

/** The raw value of one option: given, or the default (the state dir's comes from $STATE_DIRECTORY). */
function rawValue(option: OptionSpec, raw: RawConfig, context: ValidationContext): string | readonly string[] | boolean {
  const given = raw[option.flag];
  if (given !== undefined) return given;
  if (option.flag === 'state-dir') {
    const fromSystemd = context.env?.STATE_DIRECTORY?.split(':')[0];
    if (fromSystemd) return fromSystemd;
  }
  return option.kind === 'regex-list' ? [] : option.default;
}

/** One option's typed value, or undefined after pushing its problem. */
function convert(option: OptionSpec, value: string | readonly string[] | boolean, problems: string[]): unknown {
  const fail = (problem: string): undefined => {
    problems.push(`--${option.flag}: ${problem}`);
    return undefined;
  };
  if (option.kind === 'regex-list') {
    const sources = typeof value === 'string' ? [value] : typeof value === 'boolean' ? [] : value;
    const out: RegExp[] = [];
    for (const source of sources) {
      try {
        out.push(new RegExp(source));
      } catch (err) {
        fail(`"${source}" is not a valid regular expression (${(err as Error).message})`);
      }
    }
    return out;
  }
  if (option.kind === 'boolean') {
    if (typeof value === 'boolean') return value;
    const text = String(value).trim().toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(text)) return true;
    if (['0', 'false', 'no', 'off', ''].includes(text)) return false;
    return fail(`"${String(value)}" is not true or false`);
  }
  if (typeof value !== 'string') return fail('takes one value');
  const text = value.trim();
  if (option.kind === 'enum') {
    const lower = text.toLowerCase();
    return option.values?.includes(lower) ? (lower as Level) : fail(`"${text}" is not ${describeRange(option)}`);
  }
  if (option.kind === 'string') {
    if (text === '') return option.optional ? '' : fail('must not be empty');
    const problem = option.check?.(text);
    return problem ? fail(problem) : text;
  }
  // seconds and integer
  const n = text === '' ? NaN : Number(text);
  const inRange =
    Number.isFinite(n) &&
    (option.kind === 'seconds' || Number.isInteger(n)) &&
    ((option.zeroOff === true && n === 0) || (n >= (option.min ?? -Infinity) && n <= (option.max ?? Infinity)));
  if (!inRange) return fail(`"${text}" is not ${describeRange(option)}`);
  return option.kind === 'seconds' ? Math.round(n * 1000) : n;
}

/** A log list is an http(s) URL or a readable file. */
function checkLogList(logList: string, context: ValidationContext): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(logList)) {
    if (!/^https?:\/\//i.test(logList)) return `"${logList}" must be an http(s) URL or a file path`;
    try {
      new URL(logList);
    } catch {
      return `"${logList}" is not a valid URL`;
    }
    return undefined;
  }
  if (context.isReadableFile && !context.isReadableFile(logList)) return `cannot read the file "${logList}"`;
  return undefined;
}
