// How the stores of saved positions report failed writes: counted, logged at most once a minute, the
// recovery logged once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CertstreamError } from '../../src/errors.js';
import type { Logger } from '../../src/log/logger.js';
import { FlushFailures } from '../../src/state/flush-failures.js';

function recordingLogger(lines: { level: string; msg: string; fields: Record<string, unknown> }[]): Logger {
  const at = (level: string) => (msg: string, fields: Record<string, unknown> = {}) => void lines.push({ level, msg, fields });
  const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => logger };
  return logger;
}

test('failures are counted and logged once while they go on; the recovery is logged once', () => {
  const lines: { level: string; msg: string; fields: Record<string, unknown> }[] = [];
  let counted = 0;
  const failures = new FlushFailures({
    logger: recordingLogger(lines),
    failedMessage: 'flush failed',
    recoveredMessage: 'written again',
    fields: { path: '/state/x.json' },
    counter: { inc: () => void counted++ },
  });
  failures.succeeded();
  assert.deepEqual(failures.health(), { lastError: null, errors: 0 });
  assert.equal(lines.length, 0, 'a success without failures says nothing');

  const error = new CertstreamError('STATE_ERR_IO', 'cannot write x', { cause: new Error('EACCES') });
  for (let i = 0; i < 3; i++) failures.failed(error);
  assert.equal(counted, 3);
  assert.deepEqual(failures.health(), { lastError: 'cannot write x: EACCES', errors: 3 });
  assert.deepEqual(lines, [{ level: 'error', msg: 'flush failed', fields: { path: '/state/x.json', error: 'cannot write x: EACCES', failures: 1 } }]);

  failures.succeeded();
  failures.succeeded();
  assert.deepEqual(failures.health(), { lastError: null, errors: 3 }, 'the failures stay counted');
  assert.deepEqual(lines.slice(1), [{ level: 'info', msg: 'written again', fields: { path: '/state/x.json', failures: 3 } }]);

  failures.failed(error);
  assert.equal(lines.at(-1)?.msg, 'flush failed', 'after a recovery the next failure is logged at once');
});

test('without a logger failures are only counted', () => {
  const failures = new FlushFailures({ failedMessage: 'flush failed' });
  failures.failed(new Error('x'));
  failures.succeeded();
  assert.deepEqual(failures.health(), { lastError: null, errors: 1 });
});
