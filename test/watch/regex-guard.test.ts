/**
 * Issue 23, the RegexGuard livelock: with a limit shorter than a worker's start, every batch timed out
 * before any rule ran, nothing was blamed, and the batch was retried for ever. Now the limit counts from
 * each rule's start and is floored above the measured worker start, and a batch is never retried
 * without a rule to blame (a worker that does not start is an error). Real worker threads.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RegexGuard } from '../../src/watch/regex-guard.js';

describe('RegexGuard limits', () => {
  it('a 10 ms limit is raised above the worker start, and rules match; a hostile rule is still blamed', async () => {
    const floors: number[][] = [];
    const blamed: string[] = [];
    const g = new RegexGuard(
      [{ id: 0, source: '^pay-[0-9]+\\.', flags: '', text: '/^pay-[0-9]+\\./' }, { id: 1, source: '^(a+)+$', flags: '', text: '/^(a+)+$/' }],
      { timeoutMs: 10, onFloor: (l, s) => floors.push([l, s]), onTimeout: (r) => blamed.push(r.text) },
    );
    try {
      const hits = await g.match(['pay-1.example', `${'a'.repeat(40)}!`, 'x.example']);
      assert.deepEqual(hits, [{ name: 0, rule: 0 }]);
      assert.deepEqual(blamed, ['/^(a+)+$/']);
      assert.equal(floors.length, 1);
      assert.ok(g.timeoutMs >= 2 * floors[0][1] && g.timeoutMs > 10, `limit ${g.timeoutMs} ms, worker start ${floors[0][1]} ms`);
    } finally {
      await g.close();
    }
  });

  it('a worker that does not start in time fails the batch instead of retrying it without blame', async () => {
    const g = new RegexGuard([{ id: 0, source: 'x', flags: '', text: '/x/' }], { timeoutMs: 10, startLimitMs: 1 });
    try {
      await assert.rejects(g.match(['x']), /did not start within 1 ms/);
    } finally {
      await g.close();
    }
  });
});
