/**
 * `certstream-watch export --db URL [--since ISO-DATE] [--format csv|json] [--dead-letters]`
 * (interface.md): the stored matches on stdout, oldest first, read in pages so that a large store does
 * not fill memory; with --dead-letters, the deliveries given up instead (target, attempts, last error
 * and the match). CSV (RFC 4180, a header line, cells a spreadsheet would run as a formula
 * neutralised) or JSON (one array of objects). Exit codes: 0, 2 usage, 78 invalid or missing database,
 * 69 a PostgreSQL that cannot be reached.
 */
import { existsSync } from 'node:fs';
import { parseWith, usageError, valuesOrExit, type Parsed } from '../certaudit/cli-args.js';
import { describeError } from '../../errors.js';
import { redactUrl } from '../../watch/redact.js';
import { DEFAULT_DB, openStore, parseDbUrl, type DeadLetter, type StoredMatch } from '../../watch/store.js';
import { storeExitCode } from './exit-codes.js';
import type { WatchIo } from './run-command.js';

/** Parsed options of `export`. */
export interface ExportOptions {
  db: string;
  /** Epoch seconds, or undefined for everything. */
  since: number | undefined;
  format: 'csv' | 'json';
  deadLetters: boolean;
}

const USAGE = `Usage: certstream-watch export [--db URL] [--since ISO-DATE] [--format csv|json] [--dead-letters]

Writes the stored matches (oldest first) to stdout. --since keeps those recorded at or after the date
(2026-11-29 or 2026-11-29T12:00:00Z). --dead-letters lists the deliveries given up instead.
Default database ${DEFAULT_DB}, default format csv.`;

/**
 * The export columns, in order (CSV header and JSON keys). `domain` is the ASCII (punycode) form,
 * `domain_unicode` the decoded one (added last so that existing column positions hold).
 */
export const EXPORT_COLUMNS = [
  'time', 'domain', 'rule', 'log', 'cert_index', 'fingerprint', 'serial', 'issuer', 'not_before', 'not_after', 'update_type', 'sighting_of',
  'domain_unicode',
] as const;

/** The columns of `--dead-letters`: the delivery, then its match. */
export const DEAD_LETTER_COLUMNS = ['dead_at', 'target', 'kind', 'attempts', 'last_error', ...EXPORT_COLUMNS] as const;

type Cell = string | number | null;

/** Parses an ISO 8601 date or date-time (UTC when no offset is given) to epoch seconds. */
export function parseSince(v: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.exec(v.trim());
  if (!m) throw usageError(`--since must be an ISO date such as 2026-11-29 or 2026-11-29T12:00:00Z, got '${v}'`);
  const iso = m[4] === undefined ? `${v.trim()}T00:00:00Z` : m[7] === undefined ? `${v.trim()}Z` : v.trim();
  const t = Date.parse(iso.replace(' ', 'T'));
  if (!Number.isFinite(t)) throw usageError(`--since '${v}' is not a valid date`);
  return t / 1000;
}

function iso(s: number | null): string | null {
  return s === null ? null : new Date(s * 1000).toISOString();
}

/** One match as an export record (times in ISO 8601). */
export function exportRecord(m: StoredMatch): Record<(typeof EXPORT_COLUMNS)[number], Cell> {
  return {
    time: iso(m.time), domain: m.domain, rule: m.rule, log: m.log, cert_index: m.certIndex, fingerprint: m.fingerprint,
    serial: m.serial, issuer: m.issuer, not_before: iso(m.notBefore), not_after: iso(m.notAfter), update_type: m.updateType,
    sighting_of: m.sightingOf, domain_unicode: m.domainUnicode,
  };
}

/** One dead letter as an export record (the target without secrets). */
export function deadLetterRecord(d: DeadLetter): Record<(typeof DEAD_LETTER_COLUMNS)[number], Cell> {
  const hook = d.url.startsWith('hook:');
  return {
    dead_at: iso(d.deadAt), target: redactUrl(hook ? d.url.slice('hook:'.length) : d.url), kind: hook ? 'hook' : 'webhook', attempts: d.attempts,
    last_error: d.lastError, ...exportRecord(d.match),
  };
}

/**
 * A CSV field (RFC 4180). A text cell that a spreadsheet would run as a formula — one starting with
 * `=`, `+`, `-`, `@`, a tab or a carriage return (a name in a certificate is attacker-chosen) — is
 * prefixed with `'` (OWASP, "CSV injection"). Numbers are written as they are.
 */
export function csvField(v: Cell): string {
  if (v === null) return '';
  let s = String(v);
  if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Parses the arguments of `export`. */
export function parseExportArgs(argv: string[], env: Record<string, string | undefined>): Promise<Parsed<ExportOptions>> {
  return parseWith(
    argv,
    USAGE,
    (y) =>
      y
        .option('db', { type: 'string', describe: `database (default ${DEFAULT_DB}; CERTWATCH_DB)`, requiresArg: true })
        .option('since', { type: 'string', describe: 'only matches recorded at or after this ISO date', requiresArg: true })
        .option('format', { type: 'string', describe: 'csv (default) or json', requiresArg: true })
        .option('dead-letters', { type: 'boolean', describe: 'list the deliveries given up (dead letters) instead of the matches' }),
    (raw) => {
      const format = typeof raw.format === 'string' ? raw.format : 'csv';
      if (format !== 'csv' && format !== 'json') throw usageError(`--format must be csv or json, got '${format}'`);
      return {
        db: typeof raw.db === 'string' ? raw.db : env.CERTWATCH_DB || DEFAULT_DB,
        since: typeof raw.since === 'string' ? parseSince(raw.since) : undefined,
        format,
        deadLetters: raw['dead-letters'] === true,
      };
    },
  );
}

/** `certstream-watch export`: returns the exit code. */
export async function runExport(argv: string[], io: WatchIo): Promise<number> {
  const { stdout, stderr } = io;
  const parsed = await parseExportArgs(argv, io.env);
  const args = valuesOrExit(parsed, 'certstream-watch export', { stdout, stderr });
  if ('exit' in args) return args.exit;
  const o = args.values;
  let spec;
  try {
    spec = parseDbUrl(o.db);
  } catch (err) {
    stderr.write(`certstream-watch: ${redactUrl(describeError(err))}\n`);
    return 78;
  }
  // Exporting must not create an empty database where the operator mistyped a path.
  if (spec.kind === 'sqlite' && !existsSync(spec.path)) {
    stderr.write(`certstream-watch: --db: no database at ${spec.path}\n`);
    return 78;
  }
  let store;
  try {
    store = await openStore(spec);
  } catch (err) {
    const code = storeExitCode(err);
    if (code === undefined) throw err;
    stderr.write(`certstream-watch: ${redactUrl(describeError(err))}\n`);
    return code;
  }
  try {
    const columns: readonly string[] = o.deadLetters ? DEAD_LETTER_COLUMNS : EXPORT_COLUMNS;
    if (o.format === 'csv') stdout.write(`${columns.join(',')}\n`);
    else stdout.write('[');
    let first = true;
    let afterId = 0;
    let afterDead = { matchId: 0, url: '' };
    for (;;) {
      let records: Record<string, Cell>[];
      if (o.deadLetters) {
        const page = (await store.deadLetterPage(afterDead, 1000)).filter((d) => o.since === undefined || d.deadAt >= o.since);
        if (page.length === 0) break;
        afterDead = { matchId: page[page.length - 1].matchId, url: page[page.length - 1].url };
        records = page.map(deadLetterRecord);
      } else {
        const page = await store.exportPage(o.since, afterId, 1000);
        if (page.length === 0) break;
        afterId = page[page.length - 1].id;
        records = page.map(exportRecord);
      }
      let chunk = '';
      for (const r of records) {
        if (o.format === 'csv') chunk += `${columns.map((c) => csvField(r[c])).join(',')}\n`;
        else chunk += `${first ? '\n' : ',\n'}${JSON.stringify(r)}`;
        first = false;
      }
      if (!stdout.write(chunk)) await new Promise((resolve) => stdout.once('drain', resolve));
    }
    if (o.format === 'json') stdout.write(first ? ']\n' : '\n]\n');
  } finally {
    await store.close();
  }
  return 0;
}
