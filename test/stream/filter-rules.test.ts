// The `match=` parameter (interface.md, "Server-side filtering"): the certstream-watch rule syntax
// without regular expressions, bounded, normalised so that equal sets share one key; every malformed set
// is one line saying which rule and why.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFilterRules, type FilterRules } from '../../src/stream/filter-rules.js';
import { parseSubscriptionQuery } from '../../src/stream/subscription-query.js';

function rules(value: string): FilterRules {
  const r = parseFilterRules(value);
  if ('error' in r) throw new Error(r.error);
  return r;
}

test('the same rules written differently share one key: order, case, punycode, *. and repeats do not matter', () => {
  const a = rules('Example.COM,~PayPal,=xn--bcher-kva.example');
  const b = rules('=bücher.example , ~paypal,*.example.com,example.com.,example.com');
  assert.equal(a.key, b.key);
  assert.deepEqual(a.rules, [
    { kind: 'domain', value: 'example.com' },
    { kind: 'exact', value: 'bücher.example' },
    { kind: 'substring', value: 'paypal' },
  ].sort((x, y) => (`${x.kind}\u0000${x.value}` < `${y.kind}\u0000${y.value}` ? -1 : 1)));
  assert.notEqual(rules('example.com').key, rules('=example.com').key, 'domain and exact select different names');
});

test('malformed sets: one line naming the rule and the reason', () => {
  for (const [value, expect] of [
    ['', /match rule 1 is empty/],
    ['a.example,,b.example', /match rule 2 is empty/],
    ['a.example,', /match rule 2 is empty/],
    ['/pay.*pal/', /regular expressions are not accepted/],
    ['~', /needs text after/],
    ['a b.example', /not a domain name/],
    ['a..example', /empty label/],
    ['a\u0001.example', /control characters/],
    [Array.from({ length: 1001 }, (_, i) => `d${i}.example`).join(','), /1001 rules, at most 1000/],
    ['x'.repeat(16 * 1024 + 1), /over 16384 bytes/],
  ] as const) {
    const r = parseFilterRules(value);
    assert.ok('error' in r, `accepted ${JSON.stringify(value.slice(0, 40))}`);
    assert.match(r.error, expect);
    assert.equal(r.error.split('\n').length, 1);
  }
  assert.ok(!('error' in parseFilterRules(Array.from({ length: 1000 }, (_, i) => `d${i}.example`).join(','))), '1,000 rules are accepted');
});

test('match in the query: URL-decoded, once, beside id and since', () => {
  const q = parseSubscriptionQuery('/?id=a&match=%3Dexact.example%2C~pay&since=5');
  assert.ok(!('error' in q));
  assert.equal(q.id, 'a');
  assert.equal(q.since, 5);
  assert.deepEqual(q.match?.rules, [
    { kind: 'exact', value: 'exact.example' },
    { kind: 'substring', value: 'pay' },
  ]);
  assert.deepEqual(parseSubscriptionQuery('/?match=a.example&match=b.example'), { error: 'match given more than once (separate its rules with commas)' });
});
