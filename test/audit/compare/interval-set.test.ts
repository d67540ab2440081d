import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IntervalSet } from '../../../src/audit/compare/interval-set.js';
import { lcg as rng } from '../../support/prng.js';

test('appending consecutive indices keeps one run', () => {
  const s = new IntervalSet();
  for (let i = 100; i < 10_100; i++) assert.equal(s.add(i), true);
  assert.equal(s.runCount, 1);
  assert.equal(s.size, 10_000);
  assert.equal(s.min, 100);
  assert.equal(s.max, 10_099);
  assert.equal(s.add(500), false, 'a duplicate is not new');
});

test('holes, out-of-order inserts and merges', () => {
  const s = new IntervalSet();
  s.addRange(10, 19);
  s.addRange(30, 39);
  s.add(25);
  assert.deepEqual(s.intervals(), [[10, 19], [25, 25], [30, 39]]);
  assert.equal(s.addRange(18, 31), 14 - 2 - 1 - 2, 'only 20..24 and 26..29 are new');
  assert.deepEqual(s.intervals(), [[10, 39]]);
  s.add(5);
  s.add(41);
  assert.deepEqual(s.intervals(), [[5, 5], [10, 39], [41, 41]]);
  s.add(40);
  assert.deepEqual(s.intervals(), [[5, 5], [10, 41]]);
});

test('countIn, countBothIn and removeBelow agree with a plain Set', () => {
  const r = rng(42);
  for (let round = 0; round < 50; round++) {
    const a = new IntervalSet();
    const b = new IntervalSet();
    const pa = new Set<number>();
    const pb = new Set<number>();
    for (let i = 0; i < 300; i++) {
      const x = Math.floor(r() * 400);
      const len = r() < 0.2 ? Math.floor(r() * 10) : 0;
      const newA = a.addRange(x, x + len);
      let expectNew = 0;
      for (let k = x; k <= x + len; k++) {
        if (!pa.has(k)) {
          pa.add(k);
          expectNew++;
        }
      }
      assert.equal(newA, expectNew);
      const y = Math.floor(r() * 400);
      b.add(y);
      pb.add(y);
    }
    for (let q = 0; q < 30; q++) {
      const lo = Math.floor(r() * 420) - 10;
      const hi = lo + Math.floor(r() * 200);
      let ca = 0;
      let cab = 0;
      for (let k = lo; k <= hi; k++) {
        if (pa.has(k)) ca++;
        if (pa.has(k) && pb.has(k)) cab++;
      }
      assert.equal(a.countIn(lo, hi), ca, `countIn(${lo}, ${hi})`);
      assert.equal(a.countBothIn(b, lo, hi), cab, `countBothIn(${lo}, ${hi})`);
      assert.equal(b.countBothIn(a, lo, hi), cab);
    }
    const cut = Math.floor(r() * 400);
    a.removeBelow(cut);
    for (let k = 0; k < 420; k++) assert.equal(a.has(k), k >= cut && pa.has(k), `has(${k}) after removeBelow(${cut})`);
  }
});
