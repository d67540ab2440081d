/**
 * The daemon's configuration: its shape, defaults and the pure validation that turns raw strings
 * (from flags or CERTSTREAM_* environment variables) into a typed `ServerConfig`.
 *
 * Validation reports every problem at once, one line each (style.md habit 4): an operator who got two
 * values wrong fixes both after one attempt. Reading argv and the environment lives in parse-args.ts.
 */
import type { Level } from '../log/logger.js';
import { VERSION } from '../version.js';

/** Google's v3 log list: every RFC 6962 log and every static-ct-api (tiled) log. */
export const DEFAULT_LOG_LIST = 'https://www.gstatic.com/ct/log_list/v3/log_list.json';

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
  /** Log list re-read period, milliseconds; 0 = never. */
  logListRefreshMs: number;
  /** Ignore the saved cursors and start every log afresh (deliberately; never done silently). */
  resetState: boolean;
  /** How long published frames stay replayable, seconds; 0 = no replay window (no `id`/`since`). */
  replayWindowSeconds: number;
  /** Disk cap of the replay window, bytes. */
  replayWindowBytes: number;
  /** Pings that confirm a durable client's position, milliseconds. */
  durablePingIntervalMs: number;
}

/** One option of the daemon: flag name, environment variable, default (as the raw string), help. */
export interface OptionSpec {
  flag: string;
  /** `string` options carry one value; `list` options may repeat (env: whitespace-separated). */
  type: 'string' | 'list' | 'boolean';
  describe: string;
  /** Shown in --help; the raw default is resolved in `defaultRawValue`. */
  defaultText: string;
}

export const OPTIONS: readonly OptionSpec[] = [
  { flag: 'host', type: 'string', describe: 'bind address', defaultText: '0.0.0.0' },
  { flag: 'port', type: 'string', describe: 'HTTP + WebSocket port (also honours PORT)', defaultText: '4000' },
  { flag: 'log-list', type: 'string', describe: 'URL or file path of a v3 log list', defaultText: DEFAULT_LOG_LIST },
  { flag: 'state-dir', type: 'string', describe: 'directory of the cursor file', defaultText: '$STATE_DIRECTORY, else ./state' },
  { flag: 'backfill', type: 'string', describe: 'entries behind the head to start at for a log with no saved cursor', defaultText: '0' },
  { flag: 'poll-interval', type: 'string', describe: 'seconds between head checks of each log (decimals allowed)', defaultText: '5' },
  { flag: 'user-agent', type: 'string', describe: 'User-Agent sent to logs; please put a contact address in it', defaultText: `certstream-server/${VERSION}` },
  { flag: 'heartbeat-interval', type: 'string', describe: 'seconds between heartbeat frames on / and /full-stream (0 = off)', defaultText: '30' },
  { flag: 'logs-include', type: 'list', describe: 'follow only logs whose url or description matches one of these regexes (repeatable; in the environment: space-separated)', defaultText: '(all)' },
  { flag: 'logs-exclude', type: 'list', describe: 'never follow logs whose url or description matches one of these regexes (repeatable; in the environment: space-separated)', defaultText: '(none)' },
  { flag: 'client-buffer-bytes', type: 'string', describe: 'per-client byte budget; frames over it are dropped and counted', defaultText: '8388608' },
  { flag: 'slow-client-timeout', type: 'string', describe: 'seconds a client may stay over its budget before it is closed', defaultText: '15' },
  { flag: 'ping-interval', type: 'string', describe: 'seconds between protocol pings; a peer that misses one is terminated (0 = off)', defaultText: '30' },
  { flag: 'per-message-deflate', type: 'boolean', describe: 'offer permessage-deflate compression (CPU per client)', defaultText: 'false' },
  { flag: 'max-payload', type: 'string', describe: 'largest accepted client frame, bytes', defaultText: '4096' },
  { flag: 'max-connections', type: 'string', describe: 'most open connections (HTTP + WebSocket); more are refused and counted (capped to the open-file limit - 128)', defaultText: '4096' },
  { flag: 'max-lag', type: 'string', describe: '/healthz: lag (entries) above which a log counts as unhealthy', defaultText: '10000' },
  { flag: 'log-level', type: 'string', describe: 'debug, info, warn or error', defaultText: 'info' },
  { flag: 'partial-tile-delay', type: 'string', describe: 'seconds the right-most tile of a static-ct-api log must stay partial before it is read', defaultText: '10' },
  { flag: 'log-list-refresh', type: 'string', describe: 'seconds between re-reads of the log list (0 = never)', defaultText: '3600' },
  { flag: 'replay-window', type: 'string', describe: 'seconds published frames stay replayable for ?id= and ?since= (0 = off)', defaultText: '900' },
  { flag: 'replay-window-bytes', type: 'string', describe: 'disk cap of the replay window in the state directory, bytes', defaultText: '2147483648' },
  { flag: 'durable-ping-interval', type: 'string', describe: 'seconds between pings that confirm a durable client\'s position', defaultText: '5' },
  { flag: 'reset-state', type: 'boolean', describe: 'ignore the saved cursors and start every log afresh (the cursor file is then overwritten)', defaultText: 'false' },
];

/** Raw values keyed by flag name; lists as arrays of strings. Missing keys take their defaults. */
export type RawConfig = Partial<Record<string, string | readonly string[] | boolean>>;

export interface ValidationContext {
  /** For the `--state-dir` default. */
  env?: Record<string, string | undefined>;
  /** Checks that a log list file can be read; omitted = not checked. */
  isReadableFile?: (path: string) => boolean;
}

export type ValidationResult = { ok: true; config: ServerConfig } | { ok: false; problems: string[] };

const LEVELS: readonly Level[] = ['debug', 'info', 'warn', 'error'];

/**
 * Turns raw values into a ServerConfig, or lists every problem (one line each, naming the flag and the
 * value). Pure apart from the optional `isReadableFile` probe.
 */
export function validateConfig(raw: RawConfig, context: ValidationContext = {}): ValidationResult {
  const problems: string[] = [];
  const env = context.env ?? {};
  const str = (flag: string, fallback: string): string => {
    const v = raw[flag];
    return typeof v === 'string' ? v : fallback;
  };
  const list = (flag: string): readonly string[] => {
    const v = raw[flag];
    if (v === undefined || typeof v === 'boolean') return [];
    return typeof v === 'string' ? [v] : v;
  };
  const number = (flag: string, fallback: string, rule: { integer?: boolean; min: number; max?: number; minExclusive?: boolean }): number => {
    const text = str(flag, fallback).trim();
    const value = text === '' ? NaN : Number(text);
    const bounds = `${rule.minExclusive ? '>' : '>='} ${rule.min}${rule.max !== undefined ? ` and <= ${rule.max}` : ''}`;
    const kind = rule.integer ? 'an integer' : 'a number';
    if (
      !Number.isFinite(value) ||
      (rule.integer && !Number.isInteger(value)) ||
      (rule.minExclusive ? value <= rule.min : value < rule.min) ||
      (rule.max !== undefined && value > rule.max)
    ) {
      problems.push(`--${flag}: "${text}" is not ${kind} ${bounds}`);
      return NaN;
    }
    return value;
  };
  const regexes = (flag: string): RegExp[] => {
    const out: RegExp[] = [];
    for (const source of list(flag)) {
      try {
        out.push(new RegExp(source));
      } catch (err) {
        problems.push(`--${flag}: "${source}" is not a valid regular expression (${(err as Error).message})`);
      }
    }
    return out;
  };

  const host = str('host', '0.0.0.0').trim();
  if (host === '') problems.push('--host: must not be empty');
  const port = number('port', '4000', { integer: true, min: 0, max: 65535 });

  const logList = str('log-list', DEFAULT_LOG_LIST).trim();
  if (logList === '') problems.push('--log-list: must not be empty');
  else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(logList)) {
    if (!/^https?:\/\//i.test(logList)) problems.push(`--log-list: "${logList}" must be an http(s) URL or a file path`);
    else {
      try {
        new URL(logList);
      } catch {
        problems.push(`--log-list: "${logList}" is not a valid URL`);
      }
    }
  } else if (context.isReadableFile && !context.isReadableFile(logList)) {
    problems.push(`--log-list: cannot read the file "${logList}"`);
  }

  const stateDirectory = env.STATE_DIRECTORY?.split(':')[0];
  const stateDir = str('state-dir', stateDirectory || './state').trim();
  if (stateDir === '') problems.push('--state-dir: must not be empty');

  const backfill = number('backfill', '0', { integer: true, min: 0 });
  const pollInterval = number('poll-interval', '5', { min: 0, minExclusive: true });
  const userAgent = str('user-agent', `certstream-server/${VERSION}`);
  if (userAgent.trim() === '') problems.push('--user-agent: must not be empty');
  // eslint-disable-next-line no-control-regex
  else if (/[\r\n\x00]/.test(userAgent)) problems.push('--user-agent: must not contain line breaks or NUL');
  const heartbeat = number('heartbeat-interval', '30', { min: 0 });
  const logsInclude = regexes('logs-include');
  const logsExclude = regexes('logs-exclude');
  const clientBufferBytes = number('client-buffer-bytes', '8388608', { integer: true, min: 1024 });
  const slowClientTimeout = number('slow-client-timeout', '15', { min: 0, minExclusive: true });
  const pingInterval = number('ping-interval', '30', { min: 0 });
  const maxPayloadBytes = number('max-payload', '4096', { integer: true, min: 125 });
  const maxLag = number('max-lag', '10000', { integer: true, min: 0 });
  const maxConnections = number('max-connections', '4096', { integer: true, min: 1 });

  const bool = (flag: string): boolean => {
    const v = raw[flag];
    if (typeof v === 'boolean') return v;
    if (typeof v !== 'string') return false;
    const t = v.trim().toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(t)) return true;
    if (!['0', 'false', 'no', 'off', ''].includes(t)) problems.push(`--${flag}: "${v}" is not true or false`);
    return false;
  };
  const perMessageDeflate = bool('per-message-deflate');
  const resetState = bool('reset-state');
  const partialTileDelay = number('partial-tile-delay', '10', { min: 0 });
  const logListRefresh = number('log-list-refresh', '3600', { min: 0 });
  const replayWindow = number('replay-window', '900', { min: 0 });
  const replayWindowBytes = number('replay-window-bytes', '2147483648', { integer: true, min: 1024 * 1024 });
  const durablePingInterval = number('durable-ping-interval', '5', { min: 0, minExclusive: true });

  const levelText = str('log-level', 'info').trim().toLowerCase();
  if (!LEVELS.includes(levelText as Level)) problems.push(`--log-level: "${levelText}" is not one of ${LEVELS.join(', ')}`);

  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    config: {
      host,
      port,
      logList,
      stateDir,
      backfill,
      pollIntervalMs: Math.round(pollInterval * 1000),
      userAgent,
      heartbeatIntervalMs: Math.round(heartbeat * 1000),
      logsInclude,
      logsExclude,
      clientBufferBytes,
      slowClientTimeoutMs: Math.round(slowClientTimeout * 1000),
      pingIntervalMs: Math.round(pingInterval * 1000),
      perMessageDeflate,
      maxPayloadBytes,
      maxConnections,
      maxLag,
      logLevel: levelText as Level,
      partialTileDelayMs: Math.round(partialTileDelay * 1000),
      logListRefreshMs: Math.round(logListRefresh * 1000),
      resetState,
      replayWindowSeconds: replayWindow,
      replayWindowBytes,
      durablePingIntervalMs: Math.round(durablePingInterval * 1000),
    },
  };
}

/** `log-list` → `CERTSTREAM_LOG_LIST`. */
export function envName(flag: string): string {
  return `CERTSTREAM_${flag.toUpperCase().replace(/-/g, '_')}`;
}
