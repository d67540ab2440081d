/**
 * `certaudit health [--url http://HOST:PORT] [--timeout SECONDS] [--max-lag N] [--json]`: a black-box
 * probe of a running certstream-server for systemd timers, Nagios/Icinga and shells. It fetches
 * `/healthz` and opens a WebSocket on `/` at the same time (so the whole probe takes at most
 * --timeout), hands both observations to the pure `evaluateHealth` (health.ts), prints one line and
 * returns the Nagios exit code: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (also for bad usage).
 */
import { parseArgs } from 'node:util';
import { Agent, fetch as fetchWith } from 'undici';
import WebSocket from 'ws';
import { readCaFile, trustedCas } from '../../client/trust.js';
import { isCertstreamError } from '../../errors.js';
import { VERSION } from '../../version.js';
import {
  evaluateHealth,
  NagiosState,
  type HealthzObservation,
  type HealthVerdict,
  type WsObservation,
} from '../../audit/health/health.js';

/** Defaults of the probe. */
export const HEALTH_DEFAULTS = {
  url: 'http://127.0.0.1:4000',
  /** Seconds; also bounds the /healthz request. A busy server delivers certificates many times a
   * second and an idle one sends a heartbeat every 30 s: raise this above the heartbeat interval when
   * probing a server that may legitimately see no certificates. */
  timeoutSeconds: 10,
  /** Entries behind a log's head before the probe warns; the same as the daemon's own /healthz default. */
  maxLag: 10_000,
} as const;

const USAGE = `Usage: certaudit health [--url http://HOST:PORT] [--timeout SECONDS] [--max-lag N] [--json] [--token TOKEN] [--ca FILE]

Probes a running certstream-server: GET /healthz (status and per-log lag) and a WebSocket on /
that must deliver a frame within the timeout. Prints one summary line (JSON with --json).

  --url URL          server base URL (default ${HEALTH_DEFAULTS.url})
  --timeout SECONDS  time allowed for /healthz and the first frame (default ${HEALTH_DEFAULTS.timeoutSeconds})
  --max-lag N        warn when a log is more than N entries behind its head (default ${HEALTH_DEFAULTS.maxLag})
  --json             print the verdict as one JSON object
  --token TOKEN      access token of a server with --tokens (better: CERTAUDIT_TOKEN; a flag shows in ps)
  --ca FILE          PEM file of a CA to trust for https:// besides the system's (or NODE_EXTRA_CA_CERTS)

Exit codes (Nagios): 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (including bad usage).
`;

/** Parsed options of one probe. */
export interface HealthOptions {
  /** Base URL, without trailing slash: http(s)://host:port[/prefix]. */
  url: string;
  timeoutSeconds: number;
  maxLag: number;
  json: boolean;
  /** Access token for the stream (`/healthz` is open); sent as a Bearer header. */
  token?: string;
  /** PEM of a CA to trust besides the system's. */
  ca?: Buffer;
}

/** Parses argv; returns the options, or a usage problem text. Pure. */
export function parseHealthArgs(argv: string[], env: Record<string, string | undefined> = {}): { options: HealthOptions } | { help: true } | { usage: string } {
  let values: { url?: string; timeout?: string; 'max-lag'?: string; json?: boolean; help?: boolean; token?: string; ca?: string };
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        url: { type: 'string' },
        timeout: { type: 'string' },
        'max-lag': { type: 'string' },
        json: { type: 'boolean' },
        token: { type: 'string' },
        ca: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    return { usage: err instanceof Error ? err.message : String(err) };
  }
  if (values.help === true) return { help: true };
  const problems: string[] = [];
  const rawUrl = values.url ?? HEALTH_DEFAULTS.url;
  let url: URL | undefined;
  try {
    url = new URL(rawUrl);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') problems.push(`--url must be http:// or https://, got ${rawUrl}`);
  } catch {
    problems.push(`--url is not a URL: ${rawUrl}`);
  }
  const timeoutSeconds = values.timeout === undefined ? HEALTH_DEFAULTS.timeoutSeconds : Number(values.timeout);
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0 || timeoutSeconds > 3600) {
    problems.push(`--timeout must be a number of seconds in (0, 3600], got ${values.timeout}`);
  }
  const maxLag = values['max-lag'] === undefined ? HEALTH_DEFAULTS.maxLag : Number(values['max-lag']);
  if (!Number.isSafeInteger(maxLag) || maxLag < 0) problems.push(`--max-lag must be a whole number >= 0, got ${values['max-lag']}`);
  let ca: Buffer | undefined;
  try {
    ca = values.ca === undefined ? undefined : readCaFile(values.ca, 'AUDIT_ERR_USAGE');
  } catch (err) {
    if (!isCertstreamError(err, 'AUDIT_ERR_USAGE')) throw err;
    problems.push(err.message);
  }
  if (problems.length > 0 || url === undefined) return { usage: problems.join('; ') };
  const token = values.token ?? env.CERTAUDIT_TOKEN;
  return {
    options: { url: url.href.replace(/\/+$/, ''), timeoutSeconds, maxLag, json: values.json === true, ...(token ? { token } : {}), ...(ca ? { ca } : {}) },
  };
}

/** GET /healthz with a deadline. Never throws. */
export async function fetchHealthz(baseUrl: string, timeoutMs: number, ca?: Buffer): Promise<HealthzObservation> {
  const signal = AbortSignal.timeout(timeoutMs);
  const dispatcher = ca === undefined ? undefined : new Agent({ connect: { ca: trustedCas(ca) } });
  try {
    const res = await fetchWith(`${baseUrl}/healthz`, {
      signal,
      redirect: 'manual',
      headers: { 'user-agent': `certaudit/${VERSION}`, accept: 'application/json' },
      dispatcher,
    });
    const body = await res.text();
    return { kind: 'answer', statusCode: res.status, body };
  } catch (err) {
    if (signal.aborted) return { kind: 'timeout' };
    const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : '';
    return { kind: 'unreachable', error: cause || (err instanceof Error ? err.message : String(err)) };
  } finally {
    void dispatcher?.close();
  }
}

/** Opens a WebSocket on `/` and waits for its first frame, with a deadline. Never throws. */
export function awaitFirstFrame(baseUrl: string, timeoutMs: number, access: Pick<HealthOptions, 'token' | 'ca'> = {}): Promise<WsObservation> {
  const wsUrl = `${baseUrl.replace(/^http/, 'ws')}/`;
  const started = performance.now();
  return new Promise((resolve) => {
    let done = false;
    const ws = new WebSocket(wsUrl, {
      headers: { 'user-agent': `certaudit/${VERSION}`, ...(access.token === undefined ? {} : { authorization: `Bearer ${access.token}` }) },
      ca: trustedCas(access.ca),
      handshakeTimeout: timeoutMs,
      perMessageDeflate: false,
      // A frame can be a full certificate_update of a few kB; anything far larger is not this server.
      maxPayload: 4 * 1024 * 1024,
    });
    const finish = (result: WsObservation): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      ws.removeAllListeners();
      ws.on('error', () => undefined); // late errors after terminate() must not crash the CLI
      ws.terminate();
      resolve(result);
    };
    const timer = setTimeout(() => finish({ kind: 'timeout' }), timeoutMs);
    ws.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
      const text = isBinary ? '' : Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(data as Buffer[]).toString('utf8');
      finish({ kind: 'frame', data: text, afterSeconds: (performance.now() - started) / 1000 });
    });
    ws.on('unexpected-response', (_req, res) => finish({ kind: 'error', error: `upgrade refused with HTTP ${res.statusCode}` }));
    ws.on('close', (code: number, reason: Buffer) => finish({ kind: 'closed', code, reason: reason.toString('utf8') }));
    ws.on('error', (err: Error) => finish({ kind: 'error', error: err.message }));
  });
}

/** Runs one probe against the server at `options.url`. */
export async function probeHealth(options: HealthOptions): Promise<HealthVerdict> {
  const timeoutMs = Math.round(options.timeoutSeconds * 1000);
  const base = options.url.replace(/\/+$/, '');
  const [healthz, ws] = await Promise.all([fetchHealthz(base, timeoutMs, options.ca), awaitFirstFrame(base, timeoutMs, options)]);
  return evaluateHealth(healthz, ws, { maxLag: options.maxLag, timeoutSeconds: options.timeoutSeconds });
}

/** The verdict as the one JSON object --json prints. */
export function verdictJson(verdict: HealthVerdict, url: string): string {
  return JSON.stringify({
    state: verdict.state,
    exit_code: verdict.exitCode,
    url,
    summary: verdict.summary,
    problems: verdict.problems,
    healthz: verdict.healthz,
    websocket: verdict.websocket,
  });
}

/** Entry point of `certaudit health`; returns the Nagios exit code. */
export async function runHealth(argv: string[]): Promise<number> {
  const parsed = parseHealthArgs(argv, process.env);
  if ('help' in parsed) {
    process.stdout.write(USAGE);
    return NagiosState.OK;
  }
  if ('usage' in parsed) {
    // Nagios wants the one line on stdout even for usage errors; the usage text goes to stderr.
    const line = `CERTSTREAM UNKNOWN - usage: ${parsed.usage}`.replace(/[\r\n]+/g, ' ');
    const out = argv.includes('--json')
      ? JSON.stringify({ state: 'UNKNOWN', exit_code: NagiosState.UNKNOWN, summary: line, problems: [`usage: ${parsed.usage}`] })
      : line;
    process.stdout.write(`${out}\n`);
    process.stderr.write(USAGE);
    return NagiosState.UNKNOWN;
  }
  const verdict = await probeHealth(parsed.options);
  process.stdout.write(`${parsed.options.json ? verdictJson(verdict, parsed.options.url) : verdict.summary}\n`);
  return verdict.exitCode;
}
