/**
 * `certaudit health`, the pure part: turns what the probe observed (the `/healthz` answer and the
 * WebSocket result) into a Nagios state and one summary line. No I/O here, so every verdict can be
 * tested without a server; the probe itself lives in health-command.ts.
 *
 * Verdict rules, worst wins:
 *   CRITICAL  /healthz unreachable or timed out; `status` is "down"; the WebSocket on `/` could not be
 *             opened, was closed, or delivered no frame within the timeout.
 *   UNKNOWN   /healthz answered something that is not the contract's JSON (wrong status code, not JSON,
 *             missing keys), or the first WebSocket frame is not JSON — the probe cannot judge.
 *   WARNING   `status` is "degraded"; a log's `lag` exceeds --max-lag; no logs are followed.
 *   OK        otherwise.
 * UNKNOWN ranks below CRITICAL (a server that is down is down, whatever else it said) but above
 * WARNING: a half-readable answer must not be reported as a mere warning.
 */

/** Nagios plugin states and their exit codes. */
export const NagiosState = { OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3 } as const;
export type NagiosStateName = keyof typeof NagiosState;

/** One followed log as `/healthz` reports it (the keys the probe uses). */
export interface HealthzLog {
  url: string;
  name: string;
  kind: string;
  tree_size: number | null;
  next_index: number;
  lag: number;
  last_success: number | null;
  last_error: string | null;
}

/** The `/healthz` body (contract keys). */
export interface HealthzBody {
  status: 'ok' | 'degraded' | 'down';
  uptime_seconds: number;
  clients: number;
  logs: HealthzLog[];
}

/** What the HTTP side of the probe observed. */
export type HealthzObservation =
  | { kind: 'answer'; statusCode: number; body: string }
  | { kind: 'unreachable'; error: string }
  | { kind: 'timeout' };

/** What the WebSocket side of the probe observed. */
export type WsObservation =
  | { kind: 'frame'; data: string; afterSeconds: number }
  | { kind: 'timeout' }
  | { kind: 'closed'; code: number; reason: string }
  | { kind: 'error'; error: string };

/** Thresholds of the verdict. */
export interface HealthLimits {
  /** Highest acceptable per-log lag in entries (tree_size − next_index). */
  maxLag: number;
  /** The WebSocket timeout in seconds, only for the summary text. */
  timeoutSeconds: number;
}

/** The verdict: state, exit code, the summary line and the facts behind it (for --json). */
export interface HealthVerdict {
  state: NagiosStateName;
  exitCode: number;
  /** One line, Nagios style: "CERTSTREAM OK - ... | perfdata". */
  summary: string;
  /** Every problem found, worst first; empty when OK. */
  problems: string[];
  healthz: {
    http_status: number | null;
    status: string | null;
    uptime_seconds: number | null;
    clients: number | null;
    logs: number | null;
    max_lag: number | null;
    max_lag_log: string | null;
  };
  websocket: { ok: boolean; message_type: string | null; first_frame_seconds: number | null };
}

const RANK: Record<NagiosStateName, number> = { OK: 0, WARNING: 1, UNKNOWN: 2, CRITICAL: 3 };

function worse(a: NagiosStateName, b: NagiosStateName): NagiosStateName {
  return RANK[b] > RANK[a] ? b : a;
}

function isNonNegativeNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0;
}

/**
 * Checks that a parsed `/healthz` document has the contract's shape. Returns the body or a reason
 * why it is not one. Pure.
 */
export function parseHealthzBody(text: string): { body: HealthzBody } | { invalid: string } {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return { invalid: 'not JSON' };
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return { invalid: 'not a JSON object' };
  const d = doc as Record<string, unknown>;
  if (d.status !== 'ok' && d.status !== 'degraded' && d.status !== 'down') {
    return { invalid: `status is ${JSON.stringify(d.status)}, expected ok, degraded or down` };
  }
  if (!isNonNegativeNumber(d.uptime_seconds)) return { invalid: 'uptime_seconds missing or not a number' };
  if (!isNonNegativeNumber(d.clients)) return { invalid: 'clients missing or not a number' };
  if (!Array.isArray(d.logs)) return { invalid: 'logs missing or not an array' };
  const logs: HealthzLog[] = [];
  for (const [i, raw] of d.logs.entries()) {
    const l = raw as Record<string, unknown> | null;
    if (typeof l !== 'object' || l === null || typeof l.url !== 'string' || typeof l.lag !== 'number') {
      return { invalid: `logs[${i}] has no url or lag` };
    }
    logs.push({
      url: l.url,
      name: typeof l.name === 'string' ? l.name : l.url,
      kind: typeof l.kind === 'string' ? l.kind : '',
      tree_size: typeof l.tree_size === 'number' ? l.tree_size : null,
      next_index: typeof l.next_index === 'number' ? l.next_index : 0,
      lag: l.lag,
      last_success: typeof l.last_success === 'number' ? l.last_success : null,
      last_error: typeof l.last_error === 'string' ? l.last_error : null,
    });
  }
  return { body: { status: d.status, uptime_seconds: d.uptime_seconds, clients: d.clients, logs } };
}

/** The `message_type` of a frame, or undefined when the frame is not a JSON object with one. Pure. */
export function frameMessageType(data: string): string | undefined {
  try {
    const doc = JSON.parse(data) as unknown;
    if (typeof doc === 'object' && doc !== null && typeof (doc as { message_type?: unknown }).message_type === 'string') {
      return (doc as { message_type: string }).message_type;
    }
  } catch {
    // fall through: not JSON
  }
  return undefined;
}

/**
 * Evaluates one probe. Pure: same observations, same verdict.
 * @param healthz what `GET /healthz` gave
 * @param ws what the WebSocket on `/` gave
 * @param limits --max-lag and --timeout
 */
export function evaluateHealth(healthz: HealthzObservation, ws: WsObservation, limits: HealthLimits): HealthVerdict {
  const found: { state: NagiosStateName; text: string }[] = [];
  const facts: HealthVerdict['healthz'] = {
    http_status: null,
    status: null,
    uptime_seconds: null,
    clients: null,
    logs: null,
    max_lag: null,
    max_lag_log: null,
  };

  if (healthz.kind === 'unreachable') {
    found.push({ state: 'CRITICAL', text: `/healthz unreachable: ${healthz.error}` });
  } else if (healthz.kind === 'timeout') {
    found.push({ state: 'CRITICAL', text: `/healthz gave no answer within ${limits.timeoutSeconds}s` });
  } else {
    facts.http_status = healthz.statusCode;
    const parsed = parseHealthzBody(healthz.body);
    if (healthz.statusCode !== 200 && healthz.statusCode !== 503) {
      found.push({ state: 'UNKNOWN', text: `/healthz answered HTTP ${healthz.statusCode}` });
    } else if ('invalid' in parsed) {
      found.push({ state: 'UNKNOWN', text: `/healthz answer unusable: ${parsed.invalid}` });
    } else {
      const b = parsed.body;
      facts.status = b.status;
      facts.uptime_seconds = b.uptime_seconds;
      facts.clients = b.clients;
      facts.logs = b.logs.length;
      if (b.status === 'down') found.push({ state: 'CRITICAL', text: 'status down' });
      else if (b.status === 'degraded') found.push({ state: 'WARNING', text: 'status degraded' });
      if (b.logs.length === 0) found.push({ state: 'WARNING', text: 'no logs followed' });
      let worst: HealthzLog | undefined;
      for (const l of b.logs) if (worst === undefined || l.lag > worst.lag) worst = l;
      if (worst !== undefined) {
        facts.max_lag = worst.lag;
        facts.max_lag_log = worst.name;
      }
      const lagging = b.logs.filter((l) => l.lag > limits.maxLag);
      if (lagging.length > 0) {
        const names = lagging.map((l) => `${l.name} (${l.lag})`).join(', ');
        found.push({ state: 'WARNING', text: `lag over ${limits.maxLag}: ${names}` });
      }
    }
  }

  const wsFacts: HealthVerdict['websocket'] = { ok: false, message_type: null, first_frame_seconds: null };
  if (ws.kind === 'frame') {
    const type = frameMessageType(ws.data);
    wsFacts.first_frame_seconds = ws.afterSeconds;
    if (type === undefined) {
      found.push({ state: 'UNKNOWN', text: 'first WebSocket frame is not a JSON message' });
    } else {
      wsFacts.ok = true;
      wsFacts.message_type = type;
    }
  } else if (ws.kind === 'timeout') {
    found.push({ state: 'CRITICAL', text: `no WebSocket frame within ${limits.timeoutSeconds}s` });
  } else if (ws.kind === 'closed') {
    found.push({ state: 'CRITICAL', text: `WebSocket closed before a frame (code ${ws.code}${ws.reason ? ` ${ws.reason}` : ''})` });
  } else {
    found.push({ state: 'CRITICAL', text: `WebSocket failed: ${ws.error}` });
  }

  let state: NagiosStateName = 'OK';
  for (const f of found) state = worse(state, f.state);
  found.sort((a, b) => RANK[b.state] - RANK[a.state]);
  const problems = found.map((f) => f.text);
  return {
    state,
    exitCode: NagiosState[state],
    summary: formatSummary(state, problems, facts, wsFacts, limits),
    problems,
    healthz: facts,
    websocket: wsFacts,
  };
}

function formatSummary(
  state: NagiosStateName,
  problems: string[],
  h: HealthVerdict['healthz'],
  ws: HealthVerdict['websocket'],
  limits: HealthLimits,
): string {
  const parts: string[] = [];
  if (problems.length > 0) parts.push(problems.join('; '));
  const info: string[] = [];
  if (h.status !== null) info.push(`status ${h.status}`);
  if (h.logs !== null) info.push(`${h.logs} logs`);
  if (h.max_lag !== null) info.push(`max lag ${h.max_lag} (${h.max_lag_log})`);
  if (h.clients !== null) info.push(`${h.clients} clients`);
  if (ws.ok) info.push(`${ws.message_type} after ${(ws.first_frame_seconds ?? 0).toFixed(2)}s`);
  if (info.length > 0) parts.push(info.join(', '));
  const perf: string[] = [];
  if (h.max_lag !== null) perf.push(`max_lag=${h.max_lag};${limits.maxLag}`);
  if (h.clients !== null) perf.push(`clients=${h.clients}`);
  if (h.uptime_seconds !== null) perf.push(`uptime=${Math.round(h.uptime_seconds)}s`);
  if (ws.first_frame_seconds !== null) perf.push(`first_frame=${ws.first_frame_seconds.toFixed(3)}s;;${limits.timeoutSeconds}`);
  const text = `CERTSTREAM ${state} - ${parts.join('; ')}`;
  // Newlines would break the one-line contract (and Nagios' parser): flatten anything a server sent.
  const line = perf.length > 0 ? `${text} | ${perf.join(' ')}` : text;
  return line.replace(/[\r\n]+/g, ' ');
}
