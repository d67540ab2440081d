// An entry's names for matching come from its /domains-only frame: the renderer's form is read without
// JSON.parse, anything else (escapes, another layout) with it; both give the same normalised names.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normaliseName } from '../../src/match/name-rule.js';
import { entryNames } from '../../src/stream/filter-sets.js';

test('entryNames reads the renderer\'s domains frame, escapes and odd names included', () => {
  for (const names of [[], ['a.example'], ['*.A.example', 'xn--bcher-kva.example', 'b.example.'], ['a]b'], ['a]b', 'c","message_type":"x'], ['é\u0001\\"q']]) {
    const frame = '{"data":' + JSON.stringify(names) + ',"message_type":"dns_entries"}';
    assert.deepEqual(entryNames(frame), names.map(normaliseName), frame);
  }
  assert.deepEqual(entryNames('{"message_type":"dns_entries","data":["X.example"]}'), ['x.example'], 'another key order');
});
