import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { normaliseLogUrl, parseFeedFrame } from '../../src/audit/feed-frame.js';

const GOLDEN = 'test/fixtures/calidog-golden/out';

test('normaliseLogUrl removes scheme and trailing slashes and lower-cases the host only', () => {
  assert.equal(normaliseLogUrl('https://ct.googleapis.com/logs/us1/argon2025h1/'), 'ct.googleapis.com/logs/us1/argon2025h1');
  assert.equal(normaliseLogUrl('http://ct.googleapis.com/logs/us1/argon2025h1'), 'ct.googleapis.com/logs/us1/argon2025h1');
  assert.equal(normaliseLogUrl('ct.googleapis.com/logs/us1/argon2025h1//'), 'ct.googleapis.com/logs/us1/argon2025h1');
  assert.equal(normaliseLogUrl('HTTPS://Oak.CT.Letsencrypt.org/2025h1/'), 'oak.ct.letsencrypt.org/2025h1');
  assert.equal(normaliseLogUrl('https://x/'), 'x');
});

test('the golden calidog frames give their entry identity', () => {
  const cases: Array<[string, number]> = [
    ['x509_entry.full.json', 123456789],
    ['x509_entry.lite.json', 123456789],
    ['precert_entry_synthetic.lite.json', 42],
  ];
  for (const [name, index] of cases) {
    const f = parseFeedFrame(readFileSync(`${GOLDEN}/${name}`, 'utf8'));
    assert.deepEqual(f, { kind: 'entry', log: 'ct.googleapis.com/logs/us1/argon2025h1', index }, name);
  }
});

test('heartbeats, other messages and malformed frames', () => {
  assert.deepEqual(parseFeedFrame('{"message_type":"heartbeat","timestamp":1730205715.7}'), { kind: 'heartbeat' });
  assert.deepEqual(parseFeedFrame('{"message_type":"dns_entries","data":["a.example"]}'), { kind: 'other' });
  assert.deepEqual(parseFeedFrame('not json'), { kind: 'other' });
  assert.deepEqual(parseFeedFrame('[1,2]'), { kind: 'other' });
  assert.deepEqual(parseFeedFrame('{"message_type":"certificate_update","data":{"cert_index":-1,"source":{"url":"https://x/"}}}'), { kind: 'other' });
  assert.deepEqual(parseFeedFrame('{"message_type":"certificate_update","data":{"cert_index":7,"source":{}}}'), { kind: 'other' });
  assert.deepEqual(
    parseFeedFrame('{"message_type":"certificate_update","data":{"cert_index":7,"source":{"name":"n","url":"https://x/"}}}'),
    { kind: 'entry', log: 'x', index: 7 },
  );
});
