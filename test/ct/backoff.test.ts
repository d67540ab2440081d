import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { backoffDelay, parseRetryAfter, sleep, untilSettledOrAborted } from '../../src/ct/backoff.js';

const LOW = () => 0;
const HIGH = () => 1 - Number.EPSILON;

test('backoff grows exponentially from baseMs: random=0 gives d/2, random→1 gives d', () => {
  const opts = { baseMs: 100, maxMs: 1_000_000 };
  for (let attempt = 1; attempt <= 10; attempt++) {
    const d = 100 * 2 ** (attempt - 1);
    assert.equal(backoffDelay(attempt, { ...opts, random: LOW }), d / 2, `attempt ${attempt} low`);
    assert.equal(backoffDelay(attempt, { ...opts, random: HIGH }), d, `attempt ${attempt} high`);
    assert.equal(backoffDelay(attempt, { ...opts, random: () => 0.5 }), Math.round(0.75 * d));
  }
});

test('backoff is capped at maxMs, also for huge attempt numbers (no Infinity/NaN)', () => {
  const opts = { baseMs: 500, maxMs: 60_000 };
  assert.equal(backoffDelay(8, { ...opts, random: HIGH }), 60_000); // 500·2^7 = 64 000 > cap
  assert.equal(backoffDelay(8, { ...opts, random: LOW }), 30_000);
  for (const attempt of [50, 1000, Number.MAX_SAFE_INTEGER]) {
    const v = backoffDelay(attempt, { ...opts, random: HIGH });
    assert.equal(v, 60_000);
  }
});

test('attempt 0 or negative behaves like the first retry', () => {
  assert.equal(backoffDelay(0, { baseMs: 100, random: HIGH }), 100);
  assert.equal(backoffDelay(-3, { baseMs: 100, random: HIGH }), 100);
});

test('defaults: base 500 ms, cap 60 s; Math.random jitter stays within [d/2, d]', () => {
  for (let attempt = 1; attempt <= 12; attempt++) {
    const d = Math.min(60_000, 500 * 2 ** (attempt - 1));
    for (let i = 0; i < 200; i++) {
      const v = backoffDelay(attempt);
      assert.ok(v >= d / 2 && v <= d, `attempt ${attempt}: ${v} outside [${d / 2}, ${d}]`);
      assert.ok(Number.isInteger(v));
    }
  }
  // The jitter actually spreads the values.
  const seen = new Set(Array.from({ length: 50 }, () => backoffDelay(10)));
  assert.ok(seen.size > 1);
});

test('Retry-After delta-seconds', () => {
  const now = 1_700_000_000_000;
  assert.equal(parseRetryAfter('120', now), 120_000);
  assert.equal(parseRetryAfter('0', now), 0);
  assert.equal(parseRetryAfter(' 5 ', now), 5_000);
  assert.equal(parseRetryAfter('007', now), 7_000);
});

test('Retry-After HTTP-date in all three forms, relative to the injected now', () => {
  const now = Date.parse('2015-10-21T07:00:00Z');
  const thirtyMin = 28 * 60_000;
  assert.equal(parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT', now), thirtyMin); // IMF-fixdate
  assert.equal(parseRetryAfter('Wednesday, 21-Oct-15 07:28:00 GMT', now), thirtyMin); // RFC 850
  assert.equal(parseRetryAfter('Wed Oct 21 07:28:00 2015', now), thirtyMin); // asctime, UTC by definition
  assert.equal(parseRetryAfter('Thu Oct  1 07:00:00 2015', Date.parse('2015-10-01T06:59:59Z')), 1_000);
  assert.equal(parseRetryAfter(new Date(now + 90_000).toUTCString(), now), 90_000);
  // A date in the past means "now".
  assert.equal(parseRetryAfter('Wed, 21 Oct 2015 06:00:00 GMT', now), 0);
});

test('Retry-After: absent or garbage → undefined (not 0, which would mean "retry now")', () => {
  const now = Date.parse('2026-05-20T00:00:00Z');
  for (const v of [undefined, null, '', '   ', '-5', '1.5', '1e3', 'soon', 'soon 5', 'May 5', 'abc 2015', '5 seconds',
    'Infinity', 'Wed, 21 Oct 2015 07:28:00 +0100', 'Wed, 30 Feb 2015 07:28:00 GMT', 'Wed, 21 Oct 2015 25:28:00 GMT',
    'Wed, 21 Foo 2015 07:28:00 GMT', '2015-10-21T07:28:00Z']) {
    assert.equal(parseRetryAfter(v, now), undefined, JSON.stringify(v));
  }
});

test('sleep resolves after its delay (mock timers) and leaves no abort listener behind', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const ac = new AbortController();
  let done = false;
  const p = sleep(1000, ac.signal).then(() => (done = true));
  assert.equal(getEventListeners(ac.signal, 'abort').length, 1);
  t.mock.timers.tick(999);
  return Promise.resolve()
    .then(() => assert.equal(done, false))
    .then(() => t.mock.timers.tick(1))
    .then(() => p)
    .then(() => {
      assert.equal(done, true);
      assert.equal(getEventListeners(ac.signal, 'abort').length, 0);
    });
});

test('sleep ends early when the signal aborts, and at once when it already has', { timeout: 5_000 }, async () => {
  const ac = new AbortController();
  const p = sleep(3_600_000, ac.signal);
  ac.abort();
  await p; // would hang (and time the test out) if abort were ignored
  assert.ok(ac.signal.aborted);
  await sleep(3_600_000, AbortSignal.abort());
  // Never rejects.
  await assert.doesNotReject(sleep(0));
});

test('waits on one long-lived signal leave no abort listener behind', async () => {
  const stop = new AbortController();
  for (let i = 0; i < 50; i++) {
    await sleep(0, stop.signal);
    await untilSettledOrAborted(Promise.resolve(i), stop.signal);
    await untilSettledOrAborted(Promise.reject(new Error('x')), stop.signal);
  }
  assert.equal(getEventListeners(stop.signal, 'abort').length, 0);
  // An abort ends a wait at once, and a wait on an aborted signal does not wait.
  const pending = untilSettledOrAborted(new Promise(() => undefined), stop.signal);
  const sleeping = sleep(3_600_000, stop.signal);
  stop.abort();
  await Promise.all([pending, sleeping]);
  await untilSettledOrAborted(new Promise(() => undefined), stop.signal);
  assert.equal(getEventListeners(stop.signal, 'abort').length, 0);
});
