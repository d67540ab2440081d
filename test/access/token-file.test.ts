// The tokens file and the token checks, pure: line-numbered errors, digests only, constant-time lookup
// of every kind of refusal, and where a request carries its token.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { parseTokenFile } from '../../src/access/token-file.js';
import { TokenRegistry } from '../../src/access/token-registry.js';
import { maskToken, presentedToken } from '../../src/access/request-token.js';
import { isCertstreamError } from '../../src/errors.js';

const sha = (token: string) => createHash('sha256').update(token).digest('hex');

test('a tokens file: NAME SHA256HEX [max-connections], comments and blank lines ignored', () => {
  const tokens = parseTokenFile(`# team tokens\n\nalice ${sha('a-secret')}   # no limit\nbob\t${sha('b-secret')} 2\n`, 'tokens');
  assert.deepEqual(tokens.map((t) => [t.name, t.digest.toString('hex'), t.maxConnections]), [
    ['alice', sha('a-secret'), undefined],
    ['bob', sha('b-secret'), 2],
  ]);
});

test('a malformed line is one error naming the file and its line, never echoing the value', () => {
  const cases: [string, RegExp][] = [
    [`alice ${sha('x')}\nbob\n`, /^--tokens /],
    [`alice ${sha('x')}\nbob not-a-digest-but-maybe-a-token\n`, /line 2: the second field of bob must be 64 hex digits/],
    [`al/ice ${sha('x')}\n`, /line 1: NAME must be/],
    [`alice ${sha('x')}\n\nalice ${sha('y')}\n`, /line 3: NAME alice appears twice/],
    [`alice ${sha('x')}\nbob ${sha('x').toUpperCase()}\n`, /line 2: bob has the same digest/],
    [`alice ${sha('x')} 0\n`, /line 1: max-connections of alice must be an integer from 1/],
    [`alice ${sha('x')} 2 extra\n`, /line 1: expected "NAME SHA256HEX \[max-connections\]", found 4 field/],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => parseTokenFile(text, '/etc/tokens'), (err: unknown) => isCertstreamError(err, 'CONFIG_ERR_INVALID') && message.test(err.message) && err.message.includes('/etc/tokens') && !err.message.includes('not-a-digest'), text);
  }
});

test('the registry: missing, unknown, known, and the per-token connection limit', () => {
  const registry = new TokenRegistry(parseTokenFile(`alice ${sha('a-secret')}\nbob ${sha('b-secret')} 1\n`, 'tokens'));
  assert.deepEqual(registry.check(undefined, true), { ok: false, reason: 'missing' });
  assert.deepEqual(registry.check('a-secre', true), { ok: false, reason: 'unknown' });
  assert.deepEqual(registry.check(sha('a-secret'), true), { ok: false, reason: 'unknown' }, 'the digest itself is not a token');
  assert.deepEqual(registry.check('a-secret', true), { ok: true, name: 'alice' });
  assert.deepEqual(registry.check('b-secret', true), { ok: true, name: 'bob' });
  registry.count('bob', 1);
  assert.deepEqual(registry.check('b-secret', true), { ok: false, reason: 'limit' });
  assert.deepEqual(registry.check('b-secret', false), { ok: true, name: 'bob' }, 'a plain request is not a connection');
  registry.count('bob', -1);
  assert.deepEqual(registry.check('b-secret', true), { ok: true, name: 'bob' });
});

test('a token comes as Authorization: Bearer or ?token=; logs see it masked', () => {
  assert.equal(presentedToken('/?token=q-tok', {}), 'q-tok');
  assert.equal(presentedToken('/full-stream?id=x&token=q%2Btok', {}), 'q+tok');
  assert.equal(presentedToken('/?token=q-tok', { authorization: 'Bearer h-tok' }), 'h-tok', 'the header wins');
  assert.equal(presentedToken('/', { authorization: 'bearer h-tok' }), 'h-tok');
  assert.equal(presentedToken('/', { authorization: 'Basic abc' }), undefined);
  assert.equal(presentedToken('/?token=', {}), undefined);
  assert.equal(presentedToken('/', {}), undefined);
  assert.equal(maskToken('/full-stream?token=s3cret&id=x&TOKEN=again#f'), '/full-stream?token=***&id=x&TOKEN=***#f');
});
