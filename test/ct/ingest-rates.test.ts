import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IngestRates } from '../../src/ct/ingest-rates.js';

const A = 'https://a.example/';
const B = 'https://b.example/';

test('no rate before two samples', () => {
  const r = new IngestRates();
  assert.deepEqual(r.snapshot(), { windowSeconds: 0, perLog: new Map(), total: null });
  r.record(1_000, [{ url: A, next_index: 10 }]);
  assert.equal(r.snapshot().total, null);
  assert.equal(r.snapshot().perLog.size, 0);
});

test('entries per second per log and in total over the recorded span', () => {
  const r = new IngestRates();
  r.record(0, [{ url: A, next_index: 100 }, { url: B, next_index: 0 }]);
  r.record(10_000, [{ url: A, next_index: 300 }, { url: B, next_index: 50 }]);
  const s = r.snapshot();
  assert.equal(s.windowSeconds, 10);
  assert.equal(s.perLog.get(A), 20);
  assert.equal(s.perLog.get(B), 5);
  assert.equal(s.total, 25);
});

test('the window slides: only the last minute counts', () => {
  const r = new IngestRates(60_000);
  // 100/s for the first two minutes, then 10/s for a minute.
  let next = 0;
  for (let t = 0; t <= 120; t++) r.record(t * 1000, [{ url: A, next_index: (next = t * 100) }]);
  for (let t = 121; t <= 180; t++) r.record(t * 1000, [{ url: A, next_index: (next += 10) }]);
  const s = r.snapshot();
  assert.equal(s.windowSeconds, 60);
  assert.equal(s.perLog.get(A), 10);
});

test('a log that appears later is rated from its first sample; one that left is gone', () => {
  const r = new IngestRates();
  r.record(0, [{ url: A, next_index: 0 }]);
  r.record(10_000, [{ url: A, next_index: 100 }, { url: B, next_index: 1000 }]);
  r.record(20_000, [{ url: B, next_index: 1400 }]);
  const s = r.snapshot();
  assert.equal(s.perLog.has(A), false);
  assert.equal(s.perLog.get(B), 40);
});

test('a cursor that moves back is rate 0, a clock that steps back starts over', () => {
  const r = new IngestRates();
  r.record(0, [{ url: A, next_index: 500 }]);
  r.record(5_000, [{ url: A, next_index: 10 }]);
  assert.equal(r.snapshot().perLog.get(A), 0);
  r.record(1_000, [{ url: A, next_index: 20 }]);
  assert.equal(r.snapshot().total, null);
  assert.throws(() => new IngestRates(0), RangeError);
});
