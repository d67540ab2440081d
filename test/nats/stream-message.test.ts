// The JetStream message of an entry (src/nats/stream-message.ts, pure): a version byte, references to
// the chain certificates, then the replay-window record without them; the chain put back gives the
// record of the entry byte for byte (real entries rendered by the Renderer); messages of version 1 and
// bare records from before the byte still read; anything else is not an entry.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fillChain, splitByParts, splitChain } from '../../src/nats/chain-split.js';
import { certHash, decodeStreamMessage, encodeStreamMessage, MESSAGE_VERSION, recordWithChain } from '../../src/nats/stream-message.js';
import { Renderer } from '../../src/render/renderer.js';
import { encodeRecord, recordKey, type WindowEntry } from '../../src/replay/record-codec.js';
import { RFC6962_LOG, STATIC_LOG, rfc6962Entries, staticEntries } from '../x509/corpus.js';

const entry: WindowEntry = {
  log: 'https://ct.example/log/',
  index: 42,
  seen: 1700000000.5,
  full: '{"message_type":"certificate_update","data":{"leaf_cert":{"as_der":"AAAA"},"chain":[]}}',
  lite: '{"message_type":"certificate_update","data":{"leaf_cert":{}}}',
  domains: '{"message_type":"dns_entries","data":["a.example"]}',
};

/** Real entries (RFC 6962 and static-ct-api fixtures) as the Renderer renders them. */
function realEntries(): WindowEntry[] {
  const r = new Renderer();
  const out: WindowEntry[] = [];
  for (const [log, entries] of [[RFC6962_LOG, rfc6962Entries()], [STATIC_LOG, staticEntries()]] as const) {
    for (const e of entries) {
      const f = r.render(log, e, 1_767_225_600.25 + e.index);
      out.push({ log: log.url, index: e.index, seen: 1_767_225_600.25 + e.index, lite: f.lite, full: f.full, domains: f.domains });
    }
  }
  return out;
}

test('a real full frame splits into its chain elements and back, byte for byte', () => {
  let elements = 0;
  for (const e of realEntries()) {
    const split = splitChain(e.full);
    const chain = (JSON.parse(e.full) as { data: { chain: unknown[] } }).data.chain;
    assert.equal(split.elements.length, chain.length, `entry ${e.index}: one element per chain certificate`);
    split.elements.forEach((text, k) => assert.deepEqual(JSON.parse(text), chain[k]));
    assert.ok(split.holed.includes('"chain":[,') || chain.length <= 1, 'the elements are cut out of the holed frame');
    assert.equal(fillChain(split.holed, split.elements, split.at), e.full);
    elements += split.elements.length;
  }
  assert.ok(elements > 100, `the corpus has chains (${elements} elements)`);
});

test('the split from the renderer\'s parts is the scan\'s, without scanning; parts that do not fit the frame fall back to the scan', () => {
  const r = new Renderer();
  let split = 0;
  for (const [log, entries] of [[RFC6962_LOG, rfc6962Entries()], [STATIC_LOG, staticEntries()]] as const) {
    for (const e of entries) {
      const f = r.render(log, e, 1_767_225_600.25 + e.index);
      assert.deepEqual(splitByParts(f.full, f.parts), splitChain(f.full), `entry ${e.index}`);
      if (f.parts.chain.length > 0) split++;
    }
  }
  assert.ok(split > 100, `${split} entries with a chain`);
  // Parts of this frame, each made wrong in one way: the split is the scan's all the same.
  const g = rfc6962Entries().map((e) => r.render(RFC6962_LOG, e, 1)).find((x) => x.parts.chain.length >= 2)!;
  const p = g.parts;
  for (const wrong of [{ ...p, chainAt: p.chainAt + 1 }, { ...p, chain: [...p.chain, p.chain[0]] }, { ...p, chain: [p.chain[0].slice(1), ...p.chain.slice(1)] }, { ...p, chain: p.chain.slice(0, -1) }]) {
    assert.deepEqual(splitByParts(g.full, wrong), splitChain(g.full));
  }
});

test('a frame without a chain, or with one that is not a list of objects, is not split', () => {
  for (const full of [entry.full, '{"data":{"chain":["x"]}}', '{"data":{"chain":[{"a":1}', '{"data":{"chain":[{"a":1};{"b":2}]}}', '{"data":{}}']) {
    const split = splitChain(full);
    assert.deepEqual(split, { holed: full, elements: [], at: [] }, full);
  }
  // Braces and quotes inside strings do not end an element; a chain key inside a string is not the chain.
  const tricky = '{"data":{"cert_link":"https://x/\\"chain\\":[{","chain":[{"s":"}\\"{"},{"t":"]","u":"\\\\"},{"v":{"w":"}"}}],"leaf_cert":{}}}';
  const split = splitChain(tricky);
  assert.deepEqual(split.elements, ['{"s":"}\\"{"}', '{"t":"]","u":"\\\\"}', '{"v":{"w":"}"}}']);
  assert.equal(fillChain(split.holed, split.elements, split.at), tricky);
});

test('a message carries references, not the chain; with the chain put back it is the record of the entry', () => {
  for (const e of realEntries()) {
    const m = encodeStreamMessage(e);
    assert.equal(m.data[0], MESSAGE_VERSION);
    const decoded = decodeStreamMessage(m.data);
    assert.ok(decoded);
    assert.deepEqual(decoded.hashes, m.certs.map((c) => c.hash));
    for (const c of m.certs) {
      assert.equal(certHash(c.text), c.hash);
      assert.equal(m.data.includes(c.text), false, 'no chain element is in the message');
    }
    assert.equal(recordKey(decoded.record, 0).index, e.index);
    const rebuilt = recordWithChain(decoded, m.certs.map((c) => c.text));
    assert.deepEqual(rebuilt.record, encodeRecord(e));
    if (rebuilt.entry !== undefined) assert.deepEqual(rebuilt.entry, e);
  }
});

test('messages of version 1 and bare records (formats before the references) still decode', () => {
  const record = encodeRecord(entry);
  const v1 = Buffer.concat([Buffer.from([1]), record]);
  for (const data of [v1, record]) {
    const decoded = decodeStreamMessage(data);
    assert.ok(decoded);
    assert.deepEqual(decoded.hashes, []);
    assert.deepEqual(recordWithChain(decoded, []).record, record);
  }
});

test('anything else is not an entry: garbage, empty, a cut message, another version, a flipped byte', () => {
  const e = realEntries()[0];
  const { data: m } = encodeStreamMessage(e);
  const other = Buffer.from(m);
  other[0] = MESSAGE_VERSION + 1;
  const flipped = Buffer.from(m);
  flipped[flipped.length - 3] ^= 0x40;
  const moreRefs = Buffer.from(m);
  moreRefs.writeUInt16LE(m.readUInt16LE(1) + 1, 1);
  for (const [what, data] of [
    ['text', Buffer.from('hello, not a record')],
    ['empty', Buffer.alloc(0)],
    ['cut', m.subarray(0, m.length - 1)],
    ['longer', Buffer.concat([m, Buffer.from([0])])],
    ['another version', other],
    ['flipped byte', flipped],
    ['a reference count that does not fit', moreRefs],
  ] as const) {
    assert.equal(decodeStreamMessage(data), undefined, what);
  }
});
