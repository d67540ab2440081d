import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CertstreamError } from '../../src/errors.js';
import { createLogger } from '../../src/log/logger.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  const logger = createLogger({
    level: 'debug',
    now: () => Date.UTC(2026, 0, 2, 3, 4, 5),
    write: (l) => {
      raw.push(l);
      lines.push(JSON.parse(l) as Record<string, unknown>);
    },
  });
  return { logger, lines, raw };
}

interface SerializedError {
  type: string;
  message: string;
  code?: string;
  stack?: string;
  cause?: SerializedError | string;
  errors?: (SerializedError | string)[];
}

test('an error is written with its type, code, stack and the chain of causes (issue 14 item 7)', () => {
  const { logger, lines } = capture();
  const root = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
  const mid = new TypeError('fetch failed', { cause: root });
  const top = new CertstreamError('CT_ERR_HTTP', 'get-sth of https://ct.example/: fetch failed', { cause: mid });
  logger.error('request failed', { err: top, log: 'https://ct.example/' });
  const line = lines[0];
  assert.equal(line.msg, 'request failed');
  assert.equal(line.time, '2026-01-02T03:04:05.000Z');
  const err = line.err as SerializedError;
  assert.equal(err.type, 'CertstreamError');
  assert.equal(err.code, 'CT_ERR_HTTP');
  assert.equal(err.message, 'get-sth of https://ct.example/: fetch failed');
  assert.match(err.stack ?? '', /^CertstreamError: get-sth[^\n]*\n\s+at /, 'the stack, with frames');
  assert.match(err.stack ?? '', /logger\.test\.ts/, 'pointing at where it was thrown');
  const cause = err.cause as SerializedError;
  assert.equal(cause.type, 'TypeError');
  assert.equal(cause.message, 'fetch failed');
  assert.match(cause.stack ?? '', /^TypeError: fetch failed/);
  const rootOut = cause.cause as SerializedError;
  assert.equal(rootOut.code, 'ECONNREFUSED');
  assert.equal(rootOut.cause, undefined);
});

test('non-Error causes, aggregate errors and cause cycles are written without hanging', () => {
  const { logger, lines } = capture();
  const a = new Error('a');
  const b = new Error('b', { cause: a });
  (a as { cause?: unknown }).cause = b; // a cycle
  const agg = new AggregateError([new Error('first'), 'second'], 'both failed', { cause: { status: 503 } });
  logger.warn('odd errors', { cycle: a, agg });
  const cycle = lines[0].cycle as SerializedError;
  assert.equal(cycle.message, 'a');
  assert.equal((cycle.cause as SerializedError).message, 'b');
  assert.equal((cycle.cause as SerializedError).cause, '[Error: a]', 'the cycle is cut with a note');
  const aggOut = lines[0].agg as SerializedError;
  assert.equal(aggOut.type, 'AggregateError');
  assert.deepEqual(aggOut.cause, { status: 503 });
  assert.equal((aggOut.errors?.[0] as SerializedError).message, 'first');
  assert.equal(aggOut.errors?.[1], 'second');
});

test('a field that cannot be serialised does not throw at the caller; the rest of the line is kept', () => {
  const { logger, lines } = capture();
  const circular: Record<string, unknown> = { name: 'x' };
  circular.self = circular;
  assert.doesNotThrow(() => logger.info('odd fields', { circular, big: 10n, fine: 1 }));
  assert.equal(lines[0].fine, 1);
  assert.match(String(lines[0].circular), /^\[unserialisable: /);
  assert.match(String(lines[0].big), /^\[unserialisable: /);
});

test('levels below the minimum are not written; child bindings are', () => {
  const lines: string[] = [];
  const logger = createLogger({ level: 'warn', write: (l) => lines.push(l) });
  logger.info('hidden');
  logger.child({ component: 'hub' }).warn('shown', { n: 1 });
  assert.equal(lines.length, 1);
  const line = JSON.parse(lines[0]) as Record<string, unknown>;
  assert.deepEqual([line.level, line.msg, line.component, line.n], ['warn', 'shown', 'hub', 1]);
  assert.ok(lines[0].endsWith('}\n'), 'one line each');
});
