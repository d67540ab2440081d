/**
 * Issue 10 item 1: a get-entries body is bounded by the number of entries asked for. A hostile body
 * (60 MB of `{},{},…`, under the 64 MiB body cap) is rejected as a `parse` error of its log instead of
 * exhausting the heap: checked in a child process under a 256 MB heap, which the unbounded parse kills.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { parseGetEntriesBody, structureBudget } from '../../src/ct/get-entries-body.js';
import { isCertstreamError } from '../../src/errors.js';

const item = { leaf_input: 'AAAA', extra_data: 'AAAA' };
const body = (v: unknown) => Buffer.from(JSON.stringify(v));
const badResponse = (pattern: RegExp) => (err: unknown) => isCertstreamError(err, 'CT_ERR_BAD_RESPONSE') && pattern.test(err.message);

describe('parseGetEntriesBody', () => {
  it('parses real-shaped bodies, with strings holding brackets, commas and escaped quotes', () => {
    const entries = Array.from({ length: 32 }, () => ({ ...item }));
    assert.equal(parseGetEntriesBody(body({ entries }), 32).length, 32);
    const tricky = { entries: [{ leaf_input: '{[,,,]}\\"{{', extra_data: '"' }], note: 'x' };
    assert.deepEqual(parseGetEntriesBody(body(tricky), 1), tricky.entries);
    // A log may return fewer than asked, never more structure than asked allows.
    assert.equal(parseGetEntriesBody(body({ entries }), 1024).length, 32);
  });

  it('rejects more structure than the asked entries can have, before parsing', () => {
    const flood = Buffer.from(`{"entries":[${'{},'.repeat(structureBudget(32))}{}]}`);
    assert.throws(() => parseGetEntriesBody(flood, 32), badResponse(/more structure than 32 entries/));
    const numbers = Buffer.from(`{"entries":[${'1,'.repeat(structureBudget(32))}1]}`);
    assert.throws(() => parseGetEntriesBody(numbers, 32), badResponse(/more structure/));
    const junk = Buffer.from(`{"entries":[],"junk":[${'[],'.repeat(structureBudget(4))}[]]}`);
    assert.throws(() => parseGetEntriesBody(junk, 4), badResponse(/more structure/));
  });

  it('rejects an entry over the per-entry size limit, and bodies that are not get-entries JSON', () => {
    const big = body({ entries: [{ leaf_input: 'A'.repeat(2000), extra_data: '' }] });
    assert.throws(() => parseGetEntriesBody(big, 1, 1000), badResponse(/over 1000 bytes/));
    assert.throws(() => parseGetEntriesBody(Buffer.from('{"entries": [garbage'), 1), badResponse(/not JSON/));
    assert.throws(() => parseGetEntriesBody(Buffer.from('{"entries": "x'), 1), badResponse(/unterminated string/));
    assert.throws(() => parseGetEntriesBody(body({ nope: [] }), 1), badResponse(/no entries array/));
  });

  it('a hostile log serving 60 MB of {} does not exhaust a 256 MB heap; it is a parse error of that log', async (t) => {
    const flood = Buffer.from(`{"entries":[${'{},'.repeat(20_000_000)}{}]}`);
    const server = createServer((req, res) => {
      if (req.url?.startsWith('/ct/v1/get-sth')) return void res.end('{"tree_size":1024,"timestamp":0}');
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': flood.length });
      res.end(flood);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    t.after(() => {
      server.closeAllConnections();
      server.close();
    });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const child = spawn(process.execPath, ['--max-old-space-size=256', '--import', 'tsx', 'test/support/follow-hostile-child.ts', url], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const deadline = setTimeout(() => child.kill('SIGKILL'), 90_000);
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
    clearTimeout(deadline);
    assert.equal(code, 0, `child exited ${code} / ${signal}: ${err.slice(-500)}`);
    const result = JSON.parse(out.trim()) as { code: string; error: string; errors: string[] };
    assert.equal(result.code, 'CT_ERR_BAD_RESPONSE');
    assert.match(result.error, /more structure than 1024 entries/);
    assert.deepEqual(result.errors, ['parse']);
  });
});
