// The dashboard chart's data: entries/s per log in steps, the step under way last, bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RateHistory } from '../../src/ct/rate-history.js';

const at = (url: string, next_index: number) => ({ url, next_index });

test('rates per step, the step under way last, at most `steps` points, logs that leave forgotten', () => {
  const h = new RateHistory(10_000, 3);
  assert.deepEqual([...h.snapshot()], []);
  h.record(0, [at('a', 0), at('b', 100)]);
  h.record(5_000, [at('a', 50), at('b', 100)]);
  assert.deepEqual(h.snapshot().get('a'), [10], 'the step under way, 50 entries in 5 s');
  h.record(10_000, [at('a', 100), at('b', 200)]);
  assert.deepEqual(h.snapshot().get('a'), [10]);
  assert.deepEqual(h.snapshot().get('b'), [10]);
  for (let s = 2; s <= 5; s++) h.record(s * 10_000, [at('a', 100 + (s - 1) * 200), at('b', 200)]);
  assert.deepEqual(h.snapshot().get('a'), [20, 20, 20], 'bounded to 3 points');
  assert.deepEqual(h.snapshot().get('b'), [0, 0, 0]);
  h.record(60_000, [at('a', 1000)]);
  assert.equal(h.snapshot().has('b'), false, 'a log no longer followed is dropped');
  h.record(50_000, [at('a', 0)]);
  assert.deepEqual(h.snapshot().get('a')?.length, 3, 'a clock stepping back starts the step again, nothing negative');
  assert.ok(h.snapshot().get('a')!.every((r) => r >= 0));
});

test('a log that appears after the first sample gets its rate from when it appeared', () => {
  const h = new RateHistory(10_000, 60);
  h.record(0, []);
  h.record(1_000, [at('a', 100)]);
  h.record(3_000, [at('a', 140)]);
  assert.deepEqual(h.snapshot().get('a'), [20]);
});
