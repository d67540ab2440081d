import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrontierQueue } from '../../../src/audit/compare/frontier-queue.js';

test('points are taken in order up to a cutoff, across ring wrap-around and growth', () => {
  const q = new FrontierQueue(4);
  let t = 0;
  let expected: Array<[number, number]> = [];
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < 7; i++) {
      t += 10;
      q.push(t, t * 2, 0);
      expected.push([t, t * 2]);
    }
    const cutoff = t - 25;
    const taken = expected.filter(([pt]) => pt <= cutoff);
    expected = expected.filter(([pt]) => pt > cutoff);
    assert.equal(q.takeUpTo(cutoff), taken.length ? taken[taken.length - 1][1] : -1);
    assert.equal(q.length, expected.length);
  }
  assert.equal(q.takeUpTo(Infinity), t * 2);
  assert.equal(q.takeUpTo(Infinity), -1);
});

test('close points merge into the earlier one', () => {
  const q = new FrontierQueue();
  q.push(100, 1, 10);
  q.push(105, 2, 10);
  q.push(109, 3, 10);
  q.push(110, 4, 10);
  assert.equal(q.length, 2);
  assert.equal(q.takeUpTo(100), 3);
  assert.equal(q.takeUpTo(110), 4);
});
