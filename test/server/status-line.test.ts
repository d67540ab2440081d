import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LogStatus } from '../../src/ct/types.js';
import { statusLine } from '../../src/server.js';

test('the systemd status line names logs, clients and lag', { timeout: 60_000 }, () => {
  const s = (over: Partial<LogStatus>): LogStatus => ({
    url: 'u',
    name: 'n',
    kind: 'static',
    tree_size: 10,
    next_index: 10,
    lag: 0,
    last_success: 1,
    last_error: null,
    verified_size: null,
    verification: 'ok',
    ...over,
  });
  assert.equal(statusLine([s({ lag: 3 }), s({ last_success: null, lag: 4 })], 7, 99), '1/2 logs polled, 7 clients, total lag 7, 99 certificates streamed');
});
