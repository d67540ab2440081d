/**
 * The daemon's options: ONE table that the parser (parse-args.ts), the validation (server-config.ts),
 * `--help`, the `/etc/default/certstream-server` template and the README's options block all read
 * (the last two are generated from it by `npm run gen:options`, and a test checks they are current).
 * Adding an option is one entry here plus its field in `ServerConfig`.
 *
 * Bounds exist for the operator's sake (a typo must not become 430 head checks a second) and for
 * Node's: timers take at most 2^31−1 ms (~24.8 days) and silently fire after 1 ms above that, so every
 * duration's maximum stays well below it.
 */
import { parseAllowFrom } from '../access/address-allow.js';
import { DEFAULT_LOG_LIST } from '../ct/log-list.js';
import { VERSION } from '../version.js';

/**
 * How a raw string becomes a value: `seconds` (decimals allowed; the config holds milliseconds),
 * `integer`, `string`, `enum`, `boolean` (a flag; true/false, yes/no, on/off, 1/0 in the environment)
 * and `regex-list` (repeatable flag; whitespace-separated in the environment).
 */
export type OptionKind = 'seconds' | 'integer' | 'string' | 'enum' | 'boolean' | 'regex-list';

export interface OptionSpec {
  /** The flag without dashes: `poll-interval`. */
  readonly flag: string;
  /** The `ServerConfig` field it fills (seconds options fill a `…Ms` field, in milliseconds). */
  readonly key: string;
  readonly kind: OptionKind;
  /** The default as an operator would write it. */
  readonly default: string;
  /** What --help and the README show when the real default is computed (state dir, version). */
  readonly shownDefault?: string;
  /** The value on the template's commented line when `shownDefault` is prose. */
  readonly example?: string;
  /** Inclusive lower bound (`seconds`, `integer`). */
  readonly min?: number;
  /** Inclusive upper bound (`seconds`, `integer`). */
  readonly max?: number;
  /** `seconds`: 0 is accepted too and means "off". */
  readonly zeroOff?: boolean;
  /** `string`, `regex-list`: the accepted values in words. */
  readonly accepts?: string;
  /** `enum`: the accepted values. */
  readonly values?: readonly string[];
  /** Unit of a number, for the help text. */
  readonly unit?: 'seconds' | 'bytes' | 'entries';
  /** Read from this variable too when CERTSTREAM_<FLAG> is unset. */
  readonly envAlias?: string;
  /** One line for --help. */
  readonly help: string;
  /** Further lines for the defaults template (why, caveats). */
  readonly notes?: readonly string[];
  /** `string`: an empty value is allowed and means "off" (the default is then ''). */
  readonly optional?: boolean;
  /** Extra check of a string value; returns the problem (without the flag name) or undefined. */
  readonly check?: (value: string) => string | undefined;
}

/** 2^31−1 ms: the longest delay a Node timer honours. */
export const MAX_TIMER_MS = 2 ** 31 - 1;
const DAY = 86_400;

export const OPTIONS: readonly OptionSpec[] = [
  { flag: 'host', key: 'host', kind: 'string', default: '0.0.0.0', accepts: 'an IP address or a name that resolves', help: 'bind address' },
  {
    flag: 'port', key: 'port', kind: 'integer', default: '4000', min: 0, max: 65535, envAlias: 'PORT',
    help: 'HTTP + WebSocket port (0 = any free port; PORT is honoured too)',
    notes: ['Use >= 1024 under systemd: the unit grants no capabilities. CERTSTREAM_PORT is what the health probe reads.'],
  },
  {
    flag: 'log-list', key: 'logList', kind: 'string', default: DEFAULT_LOG_LIST, accepts: 'an http(s) URL or a readable file',
    help: 'URL or file path of a v3 log list (RFC 6962 `logs` and static-ct `tiled_logs`)',
    notes: ["A file must be readable by the service's dynamic user, e.g. under /etc/certstream-server/."],
  },
  {
    flag: 'state-dir', key: 'stateDir', kind: 'string', default: './state', shownDefault: '$STATE_DIRECTORY, else ./state', example: '/var/lib/certstream-server',
    accepts: 'a directory it may create and write',
    help: 'directory of the cursor file; one daemon at a time (locked)',
    notes: ['Under systemd the default is $STATE_DIRECTORY (/var/lib/certstream-server, made by StateDirectory=): leave it unset.'],
  },
  { flag: 'backfill', key: 'backfill', kind: 'integer', default: '0', min: 0, max: 1_000_000_000, unit: 'entries', help: 'for a log with no saved cursor: start this many entries behind its head' },
  {
    flag: 'poll-interval', key: 'pollIntervalMs', kind: 'seconds', default: '5', min: 0.01, max: 3600,
    help: 'seconds between head checks (STH / checkpoint) of each log; decimals allowed',
    notes: ['Below 1 s only for logs of your own (tests, benchmarks): public logs rate-limit.'],
  },
  {
    flag: 'user-agent', key: 'userAgent', kind: 'string', default: `certstream-server/${VERSION}`, shownDefault: 'certstream-server/<version>', accepts: 'printable ASCII',
    help: 'User-Agent sent to the logs; please put a contact address in it',
    notes: ['Log operators ask for a contact, e.g. CERTSTREAM_USER_AGENT="certstream-server (ops@example.org)"'],
    check: checkUserAgent,
  },
  {
    flag: 'heartbeat-interval', key: 'heartbeatIntervalMs', kind: 'seconds', default: '10', min: 1, max: 3600, zeroOff: true,
    help: 'seconds between heartbeat frames on / and /full-stream (0 = off)',
    notes: ["The official Go client reconnects after 15 s without a frame: keep it below that on quiet streams."],
  },
  { flag: 'logs-include', key: 'logsInclude', kind: 'regex-list', default: '', shownDefault: '(all)', example: '', accepts: 'regular expressions', help: 'follow only logs whose url or description matches one of these regular expressions (repeatable; environment: whitespace-separated)' },
  { flag: 'logs-exclude', key: 'logsExclude', kind: 'regex-list', default: '', shownDefault: '(none)', example: '', accepts: 'regular expressions', help: 'never follow logs whose url or description matches one of these regular expressions (repeatable; environment: whitespace-separated)' },
  {
    flag: 'allow-empty', key: 'allowEmpty', kind: 'boolean', default: 'false',
    help: 'start even when the log list and the include/exclude filters leave no log to follow',
    notes: ['Without it an empty selection (a --logs-include typo, a list of retired logs) is a configuration error.'],
  },
  { flag: 'client-buffer-bytes', key: 'clientBufferBytes', kind: 'integer', default: '8388608', min: 1024, max: 2 ** 30, unit: 'bytes', help: 'per-client byte budget (socket buffer + queued frames); frames over it are dropped and counted' },
  {
    flag: 'clients-memory-bytes', key: 'clientsMemoryBytes', kind: 'integer', default: '536870912', min: 1024 * 1024, max: 2 ** 40, unit: 'bytes',
    help: 'bytes queued for all clients together (plain and durable); beyond it the clients holding the most are closed as slow (1008)',
    notes: [
      'A durable or since client keeps at most 1 MiB queued and reads on from the replay window as it drains; a plain one up to --client-buffer-bytes.',
      "Keep it a few hundred MB below the unit's MemoryHigh= (the process needs about 200 MB besides its clients).",
    ],
  },
  { flag: 'slow-client-timeout', key: 'slowClientTimeoutMs', kind: 'seconds', default: '15', min: 0.1, max: 3600, help: 'seconds a client may stay over its budget before it is closed' },
  { flag: 'ping-interval', key: 'pingIntervalMs', kind: 'seconds', default: '30', min: 1, max: 3600, zeroOff: true, help: 'seconds between protocol pings; a peer that misses one is terminated (0 = off)' },
  { flag: 'per-message-deflate', key: 'perMessageDeflate', kind: 'boolean', default: 'false', help: 'offer permessage-deflate compression (costs CPU per client)' },
  { flag: 'max-payload', key: 'maxPayloadBytes', kind: 'integer', default: '4096', min: 125, max: 16 * 2 ** 20, unit: 'bytes', help: 'largest accepted client frame' },
  {
    flag: 'max-connections', key: 'maxConnections', kind: 'integer', default: '4096', min: 1, max: 1_048_576,
    help: 'most open connections (HTTP + WebSocket); more are refused and counted',
    notes: ["Lowered at start to the open-file limit minus 128, so the log followers always have descriptors (the unit's LimitNOFILE=65536)."],
  },
  { flag: 'max-lag', key: 'maxLag', kind: 'integer', default: '10000', min: 0, max: Number.MAX_SAFE_INTEGER, unit: 'entries', help: '/healthz: a log further behind its head than this counts as unhealthy' },
  { flag: 'log-level', key: 'logLevel', kind: 'enum', default: 'info', values: ['debug', 'info', 'warn', 'error'], help: 'lowest level of the JSON log lines written' },
  {
    flag: 'memory-release-interval', key: 'memoryReleaseIntervalMs', kind: 'seconds', default: '2', min: 0.1, max: 3600, zeroOff: true,
    help: "seconds between returns of unused memory to the OS: the C heap's free pages, and every 5th time the V8 heap's if the server is at rest (0 = off)",
    notes: [
      'Keeps the server at rest about 15 MB smaller. A C heap trim takes about 1 ms at rest; the next one waits 200 times as long as the last took.',
      'The V8 heap is reduced only when the event loop was busy less than 5 % of the time since the last time.',
    ],
  },
  {
    flag: 'partial-tile-delay', key: 'partialTileDelayMs', kind: 'seconds', default: '10', min: 0, max: 3600,
    help: 'seconds the right-most tile of a static-ct-api log must stay partial before it is read',
    notes: ['Full tiles are read at once; reading partial tiles on every poll floods the log operators.'],
  },
  {
    flag: 'verify', key: 'verify', kind: 'boolean', default: 'true',
    help: "verify every log's signed heads and the Merkle root of the entries streamed (README \"Verified logs\")",
    notes: ['A log caught lying stops at its last verified size, with evidence in <state-dir>/evidence/.'],
  },
  {
    flag: 'log-list-refresh', key: 'logListRefreshMs', kind: 'seconds', default: '3600', min: 10, max: 7 * DAY, zeroOff: true,
    help: 'seconds between re-reads of the log list (0 = never): new logs start, removed logs stop',
  },
  {
    flag: 'replay-window', key: 'replayWindowMs', kind: 'seconds', default: '900', min: 10, max: 7 * DAY, zeroOff: true,
    help: 'seconds published frames stay replayable for ?id= (durable) and ?since= clients (0 = off: no replay window)',
    notes: ['Kept in the state directory (replay/); --replay-window-bytes trims first when it is reached first.'],
  },
  {
    flag: 'replay-window-bytes', key: 'replayWindowBytes', kind: 'integer', default: '2147483648', min: 1024 * 1024, max: 2 ** 50, unit: 'bytes',
    help: 'disk cap of the replay window; the oldest frames are trimmed first',
    notes: ['About 1.2 KB per entry (each distinct certificate stored once, compressed): 2 GiB hold about 15 minutes at 2,000 entries/s.'],
  },
  {
    flag: 'durable-ping-interval', key: 'durablePingIntervalMs', kind: 'seconds', default: '5', min: 0.05, max: 3600,
    help: "seconds between the pings that confirm a durable client's position (what it may receive twice after a reconnect)",
  },
  {
    flag: 'durable-expire', key: 'durableExpireMs', kind: 'seconds', default: '604800', min: 1, max: 24 * DAY, zeroOff: true,
    help: 'seconds after which a durable position neither confirmed nor used (a client connected with its NAME) is forgotten (0 = never)',
    notes: ['The last use is saved with the position: a restart does not extend its life.'],
  },
  {
    flag: 'max-durable-subscriptions', key: 'maxDurableSubscriptions', kind: 'integer', default: '10000', min: 1, max: 10_000_000,
    help: 'most durable positions kept (NAME and stream); a new NAME beyond it is refused with HTTP 503 and counted',
    notes: ['Known NAMEs keep connecting. With --nats each edge counts the positions it has seen from every edge.'],
  },
  {
    flag: 'nats', key: 'nats', kind: 'string', default: '', optional: true, shownDefault: 'unset (one process, no broker)', example: 'nats://127.0.0.1:4222',
    accepts: 'nats://host:port URLs, comma-separated',
    help: 'NATS server URL(s): the replay window, cursors and positions live in JetStream, so ingest and edges can run on several machines',
    notes: ['Needs --replay-window > 0: the stream keeps entries for that long (and at most --replay-window-bytes).'],
    check: checkNatsUrls,
  },
  {
    flag: 'role', key: 'role', kind: 'enum', values: ['all', 'ingest', 'edge'], default: 'all',
    help: 'with --nats: ingest (follow logs, publish), edge (serve clients from the stream, poll no log) or all (both)',
  },
  {
    flag: 'nats-stream', key: 'natsStream', kind: 'string', default: 'CERTSTREAM', accepts: '1-32 of A-Z a-z 0-9 _ -',
    help: 'JetStream stream name (created when missing); the key-value buckets are <name>_cursors and <name>_positions',
    check: (v) => (/^[A-Za-z0-9_-]{1,32}$/.test(v) ? undefined : `"${v}" is not 1-32 of A-Z a-z 0-9 _ -`),
  },
  {
    flag: 'nats-replicas', key: 'natsReplicas', kind: 'integer', default: '1', min: 1, max: 5,
    help: 'JetStream replicas of the stream and the buckets when this node creates them (3 on a three-server cluster)',
    notes: ['An existing stream is raised to it, never lowered; existing buckets keep theirs (raise them with `nats stream edit KV_<bucket> --replicas N`).'],
  },
  {
    flag: 'tls-cert', key: 'tlsCert', kind: 'string', default: '', optional: true, shownDefault: 'unset (plain http:// and ws://)', example: '/etc/certstream-server/tls.crt',
    accepts: 'a PEM file (certificate, then its chain)',
    help: 'serve TLS on the port (https://, wss://) with this certificate; needs --tls-key; re-read on SIGHUP',
    notes: ['Under systemd leave the three access files root-only: the drop-in systemd/access/credentials.conf hands them over with LoadCredential= (systemd/README.md).'],
  },
  {
    flag: 'tls-key', key: 'tlsKey', kind: 'string', default: '', optional: true, shownDefault: 'unset', example: '/etc/certstream-server/tls.key',
    accepts: "a PEM file (the certificate's private key)",
    help: 'private key of --tls-cert; re-read on SIGHUP (a pair that does not load keeps the old one)',
  },
  {
    flag: 'tokens', key: 'tokens', kind: 'string', default: '', optional: true, shownDefault: 'unset (open: no token needed)', example: '/etc/certstream-server/tokens',
    accepts: 'a file of lines NAME SHA256HEX [max-connections]',
    help: 'access tokens: streams, /latest.json and /example.json need one (Bearer header or ?token=); re-read on SIGHUP',
    notes: ['One line per token: NAME, the SHA-256 of the token (printf %s TOKEN | sha256sum), optionally its connection limit.'],
  },
  {
    flag: 'allow-from', key: 'allowFrom', kind: 'string', default: '', optional: true, shownDefault: 'unset (every address)', example: '10.0.0.0/8,2001:db8::/32',
    accepts: 'IPv4/IPv6 CIDR ranges, comma-separated',
    help: 'accept connections only from these addresses (behind a reverse proxy the peer is the proxy)',
    check: (v) => {
      const list = parseAllowFrom(v);
      return 'error' in list ? list.error : undefined;
    },
  },
  {
    flag: 'protect-metrics', key: 'protectMetrics', kind: 'boolean', default: 'false',
    help: 'with --tokens: /metrics, /status.json (the dashboard\'s data) need a token too; /healthz stays open',
  },
  {
    flag: 'reset-state', key: 'resetState', kind: 'boolean', default: 'false',
    help: 'ignore the saved cursors and start every log afresh (the cursor file is then overwritten)',
    notes: ['Set it for one start only, then remove it again: while it is set, every restart starts over.'],
  },
];

/** A comma-separated list of nats:// (or tls://) host:port URLs. */
function checkNatsUrls(value: string): string | undefined {
  for (const part of value.split(',')) {
    const url = part.trim();
    if (!/^(nats|tls):\/\/[^/\s]+:\d+\/?$/i.test(url)) return `"${url}" is not a nats://host:port URL`;
    try {
      new URL(url);
    } catch {
      return `"${url}" is not a valid URL`;
    }
  }
  return undefined;
}

/** `log-list` → `CERTSTREAM_LOG_LIST`. */
export function envName(flag: string): string {
  return `CERTSTREAM_${flag.toUpperCase().replace(/-/g, '_')}`;
}

/** The default as shown to people (--help, template, README). */
export function shownDefault(option: OptionSpec): string {
  return option.shownDefault ?? option.default;
}

/**
 * The accepted values in words, for --help and error lines: `a number of seconds from 0.01 to 3600`,
 * `0 (off) or a number of seconds from 1 to 3600`, `an integer from 0 to 65535`, `one of debug, info`.
 */
export function describeRange(option: OptionSpec): string | undefined {
  if (option.kind === 'enum') return `one of ${option.values?.join(', ')}`;
  if (option.kind !== 'seconds' && option.kind !== 'integer') return option.accepts;
  const what = option.kind === 'seconds' ? 'a number of seconds' : `an integer${option.unit ? ` (${option.unit})` : ''}`;
  const range = option.max === undefined || option.max === Number.MAX_SAFE_INTEGER ? `>= ${option.min}` : `from ${option.min} to ${option.max}`;
  return `${option.zeroOff ? '0 (off) or ' : ''}${what} ${range}`;
}

/**
 * HTTP header values must be visible ASCII and spaces: with anything else undici rejects every request
 * to every log at run time, so it is refused at start instead.
 */
function checkUserAgent(value: string): string | undefined {
  if (value.trim() === '') return 'must not be empty';
  const bad = /[^\x20-\x7e]/.exec(value);
  if (bad) return `"${JSON.stringify(value).slice(1, -1)}" may hold only printable ASCII (found ${JSON.stringify(bad[0])})`;
  return undefined;
}
