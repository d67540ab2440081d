/**
 * `certstream-watch export`, in process against a real SQLite store: CSV with a header and RFC 4180
 * quoting, JSON as one array, `--since` on the recording time.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { parseSince, runExport } from '../../src/cli/certstream-watch/export-command.js';
import { openStore, parseDbUrl } from '../../src/watch/store.js';

async function exportWith(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await runExport(args, { stdout, stderr, env: {} });
  return { code, out, err };
}

describe('certstream-watch export', () => {
  let dir: string;
  let db: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'watch-export-'));
    db = `sqlite:${join(dir, 'w.sqlite')}`;
    const store = await openStore(parseDbUrl(db));
    const base = { rule: '~pay', log: 'ct.example/log', fingerprint: 'AA:BB', serial: '01', notBefore: 1_700_000_000, notAfter: null, updateType: 'X509LogEntry' };
    await store.record([
      { ...base, time: Date.parse('2026-11-01T00:00:00Z') / 1000, domain: 'pay.example', certIndex: 1, issuer: '/O=Quote "Inc", Ltd/CN=CA' },
      { ...base, time: Date.parse('2026-11-20T12:00:00Z') / 1000, domain: 'paypal.example', certIndex: 2, issuer: '/CN=CA' },
      {
        ...base, time: Date.parse('2026-11-21T00:00:00Z') / 1000, domain: '=HYPERLINK("http://x/","y")', domainUnicode: '=ünï', rule: '+pay', certIndex: 3,
        fingerprint: '\r1', serial: '@SUM(1)', issuer: '\t/CN=CA', notBefore: null, updateType: 'X509LogEntry', log: '-cmd',
      },
    ], []);
    await store.close();
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('CSV: a header, one line per match, quoted fields', async () => {
    const r = await exportWith(['--db', db]);
    assert.equal(r.code, 0, r.err);
    const lines = r.out.trimEnd().split('\n');
    assert.equal(lines.length, 4);
    assert.equal(lines[1], '2026-11-01T00:00:00.000Z,pay.example,~pay,ct.example/log,1,AA:BB,01,"/O=Quote ""Inc"", Ltd/CN=CA",2023-11-14T22:13:20.000Z,,X509LogEntry,,pay.example');
  });

  it('CSV: a cell a spreadsheet would run as a formula is prefixed with a quote (issue 23)', async () => {
    const r = await exportWith(['--db', db]);
    assert.equal(r.code, 0, r.err);
    const formula = r.out.trimEnd().split('\n')[3];
    assert.equal(formula, `2026-11-21T00:00:00.000Z,"'=HYPERLINK(""http://x/"",""y"")",'+pay,'-cmd,3,"'\r1",'@SUM(1),'\t/CN=CA,,,X509LogEntry,,'=ünï`);
  });

  it('JSON with --since', async () => {
    const r = await exportWith(['--db', db, '--format', 'json', '--since', '2026-11-10']);
    assert.equal(r.code, 0, r.err);
    const rows = JSON.parse(r.out) as Record<string, unknown>[];
    assert.deepEqual(rows.map((x) => [x.domain, x.cert_index, x.time, x.not_after]), [
      ['paypal.example', 2, '2026-11-20T12:00:00.000Z', null], ['=HYPERLINK("http://x/","y")', 3, '2026-11-21T00:00:00.000Z', null],
    ]);
    const none = await exportWith(['--db', db, '--format', 'json', '--since', '2027-01-01T00:00:00Z']);
    assert.deepEqual(JSON.parse(none.out), []);
  });

  it('--since accepts ISO dates and date-times, in UTC unless an offset is given', () => {
    assert.equal(parseSince('2026-11-29'), Date.parse('2026-11-29T00:00:00Z') / 1000);
    assert.equal(parseSince('2026-11-29T12:30'), Date.parse('2026-11-29T12:30:00Z') / 1000);
    assert.equal(parseSince('2026-11-29T12:30:00+02:00'), Date.parse('2026-11-29T10:30:00Z') / 1000);
    assert.throws(() => parseSince('29.11.2026'));
    assert.throws(() => parseSince('2026-13-45'));
  });
});
