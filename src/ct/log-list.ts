/**
 * Google CT log list v3 (pure): parse the JSON and select the logs to follow.
 * Followed states: usable, qualified, readonly (until its final tree size is streamed). Skipped:
 * pending, retired, rejected, entries without a state, and logs whose temporal interval has ended.
 */
import { CertstreamError } from '../errors.js';
import type { LogDescriptor, LogKind } from './types.js';

/** One `logs[]` or `tiled_logs[]` item, reduced to what the followers need. */
export interface LogListEntry {
  kind: LogKind;
  description: string;
  operator: string;
  logId: string;
  /** RFC 6962 `url`, or static `monitoring_url`. */
  monitoringUrl: string;
  submissionUrl?: string;
  /** The single key of `state`, or null when absent. */
  state: string | null;
  finalTreeSize?: number;
  /** `temporal_interval.end_exclusive` in ms since the epoch, when present. */
  endExclusive?: number;
  /**
   * The log's public key as listed (base64 DER SubjectPublicKeyInfo), when a non-empty string. Not
   * checked here: a key that cannot verify makes that log unverifiable (src/verify/log-key.ts), not the
   * list invalid.
   */
  key?: string;
}

/** Google's v3 log list: every RFC 6962 and static-ct-api log; the default of the daemon and of certaudit. */
export const DEFAULT_LOG_LIST = 'https://www.gstatic.com/ct/log_list/v3/log_list.json';

/** States whose logs are followed. */
export const FOLLOWED_STATES: readonly string[] = ['usable', 'qualified', 'readonly'];

function bad(message: string): CertstreamError {
  return new CertstreamError('CONFIG_ERR_LOG_LIST', `log list: ${message}`);
}

function str(o: Record<string, unknown>, key: string, where: string): string {
  const v = o[key];
  if (typeof v !== 'string' || v === '') throw bad(`${where}: "${key}" must be a non-empty string`);
  return v;
}

function withSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parses a v3 log list document; throws CertstreamError CONFIG_ERR_LOG_LIST (one line) when malformed. */
export function parseLogList(json: unknown): LogListEntry[] {
  if (!isObject(json) || !Array.isArray(json.operators)) throw bad('not a v3 log list (no "operators" array)');
  const out: LogListEntry[] = [];
  json.operators.forEach((op: unknown, i: number) => {
    if (!isObject(op)) throw bad(`operators[${i}] is not an object`);
    const operator = typeof op.name === 'string' ? op.name : `operator ${i}`;
    for (const kind of ['logs', 'tiled_logs'] as const) {
      const logs = op[kind] ?? [];
      if (!Array.isArray(logs)) throw bad(`operators[${i}].${kind} is not an array`);
      logs.forEach((log: unknown, j: number) => {
        const where = `operators[${i}].${kind}[${j}]`;
        if (!isObject(log)) throw bad(`${where} is not an object`);
        out.push(parseEntry(log, kind === 'logs' ? 'rfc6962' : 'static', operator, where));
      });
    }
  });
  return out;
}

function parseEntry(log: Record<string, unknown>, kind: LogKind, operator: string, where: string): LogListEntry {
  const description = str(log, 'description', where);
  const logId = str(log, 'log_id', where);
  const entry: LogListEntry = {
    kind,
    description,
    operator,
    logId,
    monitoringUrl: kind === 'rfc6962' ? str(log, 'url', where) : str(log, 'monitoring_url', where),
    state: null,
  };
  for (const u of [entry.monitoringUrl]) {
    if (!/^https?:\/\//i.test(u)) throw bad(`${where}: URL "${u}" is not http(s)`);
  }
  if (kind === 'static') entry.submissionUrl = str(log, 'submission_url', where);
  if (typeof log.key === 'string' && log.key !== '') entry.key = log.key;
  if (isObject(log.state)) {
    const keys = Object.keys(log.state);
    if (keys.length !== 1) throw bad(`${where}: "state" must have exactly one key`);
    entry.state = keys[0];
    if (entry.state === 'readonly') {
      const ro = log.state.readonly as Record<string, unknown> | undefined;
      const head = isObject(ro) ? ro.final_tree_head : undefined;
      const size = isObject(head) ? head.tree_size : undefined;
      if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
        throw bad(`${where}: readonly log without final_tree_head.tree_size`);
      }
      entry.finalTreeSize = size;
    }
  } else if (log.state !== undefined) {
    throw bad(`${where}: "state" is not an object`);
  }
  const ti = log.temporal_interval;
  if (isObject(ti) && typeof ti.end_exclusive === 'string') {
    const t = Date.parse(ti.end_exclusive);
    if (Number.isNaN(t)) throw bad(`${where}: bad temporal_interval.end_exclusive`);
    entry.endExclusive = t;
  }
  return entry;
}

/** Options of `selectLogs`. */
export interface SelectOptions {
  /** Current time, ms since the epoch (logs whose interval ended before it are skipped). */
  now: number;
  /** Keep only logs whose url or description matches one of these (all logs when empty/absent). */
  include?: readonly RegExp[];
  /** Drop logs whose url or description matches one of these. */
  exclude?: readonly RegExp[];
}

/** Picks the followed logs and turns them into descriptors, in list order, without duplicate URLs. */
export function selectLogs(list: readonly LogListEntry[], options: SelectOptions): LogDescriptor[] {
  const seen = new Set<string>();
  const out: LogDescriptor[] = [];
  for (const e of list) {
    if (e.state === null || !FOLLOWED_STATES.includes(e.state)) continue;
    if (e.endExclusive !== undefined && e.endExclusive <= options.now) continue;
    const monitoringUrl = withSlash(e.monitoringUrl);
    // The identity is the list's URL verbatim (types.ts), so frames match what other servers send.
    const url = e.monitoringUrl;
    // String#search ignores lastIndex, so a /g or /y pattern gives the same answer for every log.
    const matches = (res: readonly RegExp[]) => res.some((re) => url.search(re) >= 0 || e.description.search(re) >= 0);
    if (options.include && options.include.length > 0 && !matches(options.include)) continue;
    if (options.exclude && matches(options.exclude)) continue;
    if (seen.has(url)) continue;
    seen.add(url);
    const d: LogDescriptor = {
      kind: e.kind,
      url,
      name: e.description,
      operator: e.operator,
      logId: e.logId,
      monitoringUrl,
      state: e.state,
      ...(e.submissionUrl !== undefined ? { submissionUrl: e.submissionUrl } : {}),
      ...(e.finalTreeSize !== undefined ? { finalTreeSize: e.finalTreeSize } : {}),
      ...(e.key !== undefined ? { key: e.key } : {}),
    };
    out.push(d);
  }
  return out;
}
