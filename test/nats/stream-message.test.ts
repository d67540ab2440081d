// The JetStream message of an entry (src/nats/stream-message.ts, pure): a version byte before the
// replay-window record; bare records from before the byte still read; anything else is not an entry.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeRecord, recordKey, type WindowEntry } from '../../src/replay/record-codec.js';
import { decodeStreamMessage, encodeStreamMessage, MESSAGE_VERSION } from '../../src/nats/stream-message.js';

const entry: WindowEntry = {
  log: 'https://ct.example/log/',
  index: 42,
  seen: 1700000000.5,
  full: '{"message_type":"certificate_update","data":{"leaf_cert":{"as_der":"AAAA"},"chain":[]}}',
  lite: '{"message_type":"certificate_update","data":{"leaf_cert":{}}}',
  domains: '{"message_type":"dns_entries","data":["a.example"]}',
};

test('a message is the version byte, then the record; it decodes to that record', () => {
  const m = encodeStreamMessage(entry);
  assert.equal(m[0], MESSAGE_VERSION);
  const record = decodeStreamMessage(m);
  assert.ok(record);
  assert.deepEqual(record, encodeRecord(entry));
  assert.equal(recordKey(record, 0).index, 42);
});

test('a bare record (the format before the version byte) still decodes', () => {
  const bare = encodeRecord(entry);
  assert.deepEqual(decodeStreamMessage(bare), bare);
});

test('anything else is not an entry: garbage, empty, a cut message, another version, a flipped byte', () => {
  const m = encodeStreamMessage(entry);
  const other = Buffer.from(m);
  other[0] = MESSAGE_VERSION + 1;
  const flipped = Buffer.from(m);
  flipped[flipped.length - 3] ^= 0x40;
  for (const [what, data] of [
    ['text', Buffer.from('hello, not a record')],
    ['empty', Buffer.alloc(0)],
    ['cut', m.subarray(0, m.length - 1)],
    ['longer', Buffer.concat([m, Buffer.from([0])])],
    ['another version', other],
    ['flipped byte', flipped],
  ] as const) {
    assert.equal(decodeStreamMessage(data), undefined, what);
  }
});
