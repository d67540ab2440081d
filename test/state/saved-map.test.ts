// The shell of the stores of saved positions: snapshot, wait for the dependency, write the snapshot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as tick } from 'node:timers/promises';
import { CertstreamError, isCertstreamError } from '../../src/errors.js';
import { SavedMap, type SavedMapOptions } from '../../src/state/saved-map.js';

/** A dependency the test releases by hand; `waiting` says whether a write is held in it. */
function gate() {
  let open: (() => void) | undefined;
  let fail: ((err: Error) => void) | undefined;
  return {
    wait: () => new Promise<void>((resolve, reject) => ((open = resolve), (fail = reject))),
    get waiting() {
      return open !== undefined;
    },
    release() {
      const o = open;
      open = fail = undefined;
      o?.();
    },
    reject(err: Error) {
      const f = fail;
      open = fail = undefined;
      f?.(err);
    },
  };
}

function savedMap(snapshot: 'all' | 'changed', more: Partial<SavedMapOptions<number>> = {}) {
  const written: Record<string, number>[] = [];
  const map = new SavedMap<number>({
    snapshot,
    write: async (values) => void written.push(Object.fromEntries(values)),
    failure: (err) => new CertstreamError('STATE_ERR_IO', 'cannot save', { cause: err }),
    ...more,
  });
  return { map, written };
}

test('the snapshot is taken before the wait: a value set during the wait is written by the next write, not this one', async () => {
  const dependency = gate();
  const { map, written } = savedMap('all', { dependency: dependency.wait });
  map.set('log', 100);
  const first = map.flush();
  await tick();
  assert.ok(dependency.waiting, 'the write waits for its dependency');
  map.set('log', 250); // the follower moves on meanwhile
  dependency.release();
  await first;
  assert.deepEqual(written, [{ log: 100 }], 'the write saved what was there when its wait began');
  assert.equal(map.get('log'), 250);

  const second = map.flush();
  await tick();
  dependency.release();
  await second;
  assert.deepEqual(written, [{ log: 100 }, { log: 250 }], 'the next write saves the value set during the wait');
  await map.flush();
  assert.equal(written.length, 2, 'nothing changed since: no write');
});

test('the same holds with only the changed keys written, key by key', async () => {
  const dependency = gate();
  const { map, written } = savedMap('changed', { dependency: dependency.wait });
  map.learn('a', 1); // saved already: never written back
  map.set('b', 10);
  const first = map.flush();
  await tick();
  map.set('b', 20);
  map.set('c', 30);
  assert.ok(map.isChanged('b') && map.isChanged('c'));
  dependency.release();
  await first;
  assert.deepEqual(written, [{ b: 10 }]);
  const second = map.flush();
  await tick();
  dependency.release();
  await second;
  assert.deepEqual(written, [{ b: 10 }, { b: 20, c: 30 }]);
  assert.ok(!map.isChanged('b') && !map.isChanged('c'));
  assert.equal(map.size, 3);
  assert.deepEqual([...map.entries()], [['a', 1], ['b', 20], ['c', 30]]);
});

test('a failed dependency or write fails the flush with the store\'s error and leaves the keys to the next write', async () => {
  const dependency = gate();
  const outcomes: string[] = [];
  let writeFails = false;
  const written: Record<string, number>[] = [];
  const map = new SavedMap<number>({
    snapshot: 'changed',
    dependency: dependency.wait,
    write: async (values) => {
      if (writeFails) throw new Error('disk full');
      written.push(Object.fromEntries(values));
    },
    failure: (err) => new CertstreamError('STATE_ERR_IO', 'cannot save', { cause: err }),
    outcome: { failed: (e) => void outcomes.push(`failed: ${(e.cause as Error).message}`), succeeded: () => void outcomes.push('ok') },
  });
  map.set('a', 1);
  map.set('b', 2);
  const first = map.flush();
  await tick();
  dependency.reject(new Error('not acknowledged'));
  await assert.rejects(first, (err) => isCertstreamError(err, 'STATE_ERR_IO') && (err.cause as Error).message === 'not acknowledged');
  assert.ok(map.isChanged('a') && map.isChanged('b'), 'both keys wait for the next write');

  writeFails = true;
  const second = map.flush();
  await tick();
  map.set('a', 3); // newer than the failing write's snapshot: the retry takes it
  dependency.release();
  await assert.rejects(second, (err) => isCertstreamError(err, 'STATE_ERR_IO'));

  writeFails = false;
  const third = map.flush();
  await tick();
  dependency.release();
  await third;
  assert.deepEqual(written, [{ a: 3, b: 2 }]);
  assert.deepEqual(outcomes, ['failed: not acknowledged', 'failed: disk full', 'ok']);
});

test('with every value written: nothing changed, nothing written; rewrite() writes anyway', async () => {
  const { map, written } = savedMap('all');
  map.learn('a', 1);
  await map.flush();
  assert.deepEqual(written, []);
  map.set('a', 1);
  await map.flush();
  assert.deepEqual(written, [], 'setting the value held is no change');
  map.rewrite();
  await map.flush();
  map.set('b', 2);
  await map.close();
  assert.deepEqual(written, [{ a: 1 }, { a: 1, b: 2 }], 'close writes what changed');
});

test('client-chosen names are plain keys', async () => {
  const { map, written } = savedMap('all');
  for (const [i, name] of ['__proto__', 'constructor', 'toString', 'hasOwnProperty'].entries()) map.set(name, i);
  assert.equal(map.size, 4);
  assert.equal(map.get('__proto__'), 0);
  assert.equal(map.get('valueOf'), undefined);
  await map.flush();
  // Object.fromEntries defines own properties, so the snapshot arrived whole.
  assert.deepEqual(Object.keys(written[0]), ['__proto__', 'constructor', 'toString', 'hasOwnProperty']);
  assert.equal(({} as Record<string, unknown>).constructor, Object, 'Object.prototype untouched');
});

test('the timer writes while something changed; its failures go to onError', async (t) => {
  t.mock.timers.enable({ apis: ['setInterval'] });
  let fail = true;
  const written: Record<string, number>[] = [];
  const errors: unknown[] = [];
  const map = new SavedMap<number>({
    snapshot: 'all',
    write: async (values) => {
      if (fail) throw new Error('EACCES');
      written.push(Object.fromEntries(values));
    },
    failure: (err) => new CertstreamError('STATE_ERR_IO', 'cannot save', { cause: err }),
  });
  map.start(1000, (err) => errors.push(err));
  t.mock.timers.tick(1000);
  await tick();
  assert.equal(errors.length, 0, 'nothing changed: no write');
  map.set('a', 1);
  t.mock.timers.tick(1000);
  await tick();
  assert.equal(errors.length, 1);
  assert.ok(isCertstreamError(errors[0], 'STATE_ERR_IO'));
  fail = false;
  t.mock.timers.tick(1000);
  await tick();
  assert.deepEqual(written, [{ a: 1 }], 'the next period retried');
  await map.close();
});

test('deleted keys reach the write (changed keys only); a set after a delete wins; a failed write keeps both for the next', async () => {
  const deletes: string[][] = [];
  let failNext = false;
  const written: Record<string, number>[] = [];
  const map = new SavedMap<number>({
    snapshot: 'changed',
    write: async (values, deleted) => {
      if (failNext) {
        failNext = false;
        throw new Error('disk full');
      }
      written.push(Object.fromEntries(values));
      deletes.push([...deleted].sort());
    },
    failure: (err) => new CertstreamError('STATE_ERR_IO', 'cannot save', { cause: err }),
  });
  map.set('a', 1);
  map.set('b', 2);
  map.set('c', 3);
  await map.flush();
  map.delete('a');
  map.delete('b');
  map.set('b', 20); // used again before the write: saved, not deleted
  map.delete('nothing'); // not held: nothing to delete
  failNext = true;
  await assert.rejects(map.flush(), (err) => isCertstreamError(err, 'STATE_ERR_IO'));
  await map.flush();
  assert.deepEqual(written.at(-1), { b: 20 });
  assert.deepEqual(deletes.at(-1), ['a'], 'the failed write left its delete to the next one');
  assert.equal(map.size, 2);
  assert.equal(map.get('a'), undefined);
  map.delete('c');
  map.learn('c', 30); // another node saved it meanwhile: the pending delete must not remove its save
  await map.flush();
  assert.deepEqual(deletes.at(-1), [], 'a key learnt again is not deleted');
});
