import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { normaliseLogUrl, parseFeedFrame, parseFeedFrameBytes } from '../../../src/audit/feeds/feed-frame.js';
import { isJsonText } from '../../../src/audit/feeds/json-check.js';
import { lcg } from '../../support/prng.js';

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

test('the byte-level fast path agrees with JSON.parse on real and oddly shaped frames', () => {
  const golden = readdirSync(GOLDEN).filter((n) => /\.(lite|full|dns)\.json$/.test(n)).map((n) => readFileSync(`${GOLDEN}/${n}`, 'utf8'));
  const frames = [
    ...golden,
    // Python's json.dumps separators, other key orders, Go/Rust style URLs.
    '{"message_type": "certificate_update", "data": {"update_type": "X509LogEntry", "source": {"url": "ct.example.net/x", "name": "n"}, "cert_index": 42}}',
    '{"data":{"source":{"name":"a}b","url":"https://ct.example.net/y/"},"cert_index":7},"message_type":"certificate_update"}',
    '{"message_type":"certificate_update","data":{"cert_index":12,"source":{"url":"https://ct.example.net/\\u0079/"}}}',
    '{"message_type":"certificate_update","data":{"cert_index":1.5,"source":{"url":"https://x/"}}}',
    '{"message_type":"certificate_update","data":{"cert_index":"3","source":{"url":"https://x/"}}}',
    '{"message_type":"certificate_update","data":{"cert_index":3,"source":{"name":"no url"},"extra":{"url":"https://wrong/"}}}',
    '{"message_type":"certificate_update","data":{"cert_index":99999999999999999999,"source":{"url":"https://x/"}}}',
    '{"message_type":"heartbeat","timestamp":1}',
    '{"message_type" : "heartbeat"}',
    '{"message_type":"dns_entries","data":[]}',
    '{"no_type":1}',
    'garbage',
    '',
  ];
  for (const text of frames) {
    assert.deepEqual(parseFeedFrameBytes(Buffer.from(text)), parseFeedFrame(text), text.slice(0, 120));
  }
  assert.deepEqual(parseFeedFrameBytes(Buffer.from(frames[golden.length + 1])), { kind: 'entry', log: 'ct.example.net/y', index: 7 });
  assert.deepEqual(parseFeedFrameBytes(Buffer.from(frames[golden.length + 2])), { kind: 'entry', log: 'ct.example.net/y', index: 12 });
});

test('a frame that is not the JSON it claims to be is not an entry, however plain its keys look', () => {
  const good = '{"message_type":"certificate_update","data":{"cert_index":7,"source":{"name":"n","url":"https://x/"}}}';
  assert.deepEqual(parseFeedFrameBytes(Buffer.from(good)), { kind: 'entry', log: 'x', index: 7 });
  for (const broken of [
    `${good}garbage`,
    `${good}}`,
    `${good}{}`,
    good.replace('"data":', '"data"'),
    good.replace(',"source"', '"source"'),
    good.slice(0, -1),
    good.replace('"n"', '"n\u0001"'), // a raw control character inside a string
    '{"message_type":"heartbeat","timestamp":1} trailing',
  ]) {
    assert.deepEqual(parseFeedFrameBytes(Buffer.from(broken)), { kind: 'other' }, broken);
  }
});

test('the JSON check agrees with JSON.parse on seeded mutations of real frames', () => {
  const frames = readdirSync(GOLDEN).filter((n) => /\.(lite|dns)\.json$/.test(n)).map((n) => readFileSync(`${GOLDEN}/${n}`));
  const r = lcg(7);
  const alphabet = Buffer.from('{}[]",:0123456789.-+eE\\/ntrufalse x\n\u0001');
  let valid = 0;
  for (let k = 0; k < 3000; k++) {
    const buf = Buffer.from(frames[k % frames.length]);
    const edits = 1 + Math.floor(r() * 3);
    for (let e = 0; e < edits; e++) buf[Math.floor(r() * buf.length)] = alphabet[Math.floor(r() * alphabet.length)];
    let parses = true;
    try {
      JSON.parse(buf.toString('utf8'));
    } catch {
      parses = false;
    }
    if (parses) valid++;
    assert.equal(isJsonText(buf), parses, buf.toString('utf8').slice(0, 200));
  }
  assert.ok(valid > 100 && valid < 2900, `both outcomes exercised (${valid} valid)`);
});
