// An entry's names for matching come from its /domains-only frame (live) or from the leaf's all_domains
// in the frame itself (replay): the renderer's form is read without JSON.parse, anything else (escapes,
// another layout) with it; both give the same normalised names, and a chain never lends its text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normaliseName } from '../../src/match/name-rule.js';
import { frameNames } from '../../src/stream/filter-replay.js';
import { entryNames } from '../../src/stream/filter-sets.js';

test('entryNames reads the renderer\'s domains frame, escapes and odd names included', () => {
  for (const names of [[], ['a.example'], ['*.A.example', 'xn--bcher-kva.example', 'b.example.'], ['a]b'], ['a]b', 'c","message_type":"x'], ['é\u0001\\"q']]) {
    const frame = '{"data":' + JSON.stringify(names) + ',"message_type":"dns_entries"}';
    assert.deepEqual(entryNames(frame), names.map(normaliseName), frame);
  }
  assert.deepEqual(entryNames('{"message_type":"dns_entries","data":["X.example"]}'), ['x.example'], 'another key order');
});

test('frameNames finds a lite or full frame\'s leaf names without parsing it, and parses it when they hold escapes', () => {
  const chain = '"chain":[{"subject":{"CN":"x \\"leaf_cert\\":{\\"all_domains\\":[\\"evil.example\\"],"}}],';
  for (const names of [[], ['a.example'], ['*.A.example', 'xn--bcher-kva.example'], ['a],b'], ['q"uote.example', 'back\\slash']]) {
    for (const head of ['', chain]) {
      const frame = Buffer.from(`{"data":{"cert_index":1,${head}"leaf_cert":{"all_domains":${JSON.stringify(names)},"extensions":{}}},"message_type":"certificate_update"}`);
      assert.deepEqual(frameNames(frame), names.map(normaliseName), frame.toString());
    }
  }
});
