import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as wsModule from 'ws';
import { frameBatch, textFrameHeader } from '../../src/stream/ws-frame.js';
import { fitting } from '../../src/stream/stream-client.js';
import { streamForPath } from '../../src/stream/stream-paths.js';
import { RecentMessages } from '../../src/stream/recent-messages.js';

// ws exports its frame parser at runtime; @types/ws does not declare it.
interface FrameReceiver {
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): void;
  write(chunk: Buffer, callback: (err?: Error | null) => void): void;
}
const { Receiver } = wsModule as unknown as { Receiver: new (options: { isServer: boolean }) => FrameReceiver };

test('text frame headers use the 7-, 16- and 64-bit length forms', () => {
  assert.deepEqual([...textFrameHeader(0)], [0x81, 0]);
  assert.deepEqual([...textFrameHeader(125)], [0x81, 125]);
  assert.deepEqual([...textFrameHeader(126)], [0x81, 126, 0, 126]);
  assert.deepEqual([...textFrameHeader(65535)], [0x81, 126, 0xff, 0xff]);
  assert.deepEqual([...textFrameHeader(65536)], [0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0]);
});

test('a framed batch decodes with ws own receiver to the same messages', async () => {
  const messages = ['', 'a', 'é'.repeat(100), 'x'.repeat(300), 'y'.repeat(70000), '{"message_type":"heartbeat"}'];
  const batch = frameBatch(messages);
  assert.equal(batch.ends.length, messages.length);
  assert.equal(batch.ends.at(-1), batch.bytes.length);
  const received: string[] = [];
  const receiver = new Receiver({ isServer: false });
  receiver.on('message', (data, isBinary) => {
    assert.equal(isBinary, false);
    received.push(data.toString('utf8'));
  });
  await new Promise<void>((resolve, reject) => receiver.write(batch.bytes, (err) => (err ? reject(err) : resolve())));
  assert.deepEqual(received, messages);
});

test('fitting counts the whole frames inside a byte budget', () => {
  const ends = [10, 20, 35, 50];
  assert.equal(fitting(ends, -5), 0);
  assert.equal(fitting(ends, 0), 0);
  assert.equal(fitting(ends, 9), 0);
  assert.equal(fitting(ends, 10), 1);
  assert.equal(fitting(ends, 34), 2);
  assert.equal(fitting(ends, 35), 3);
  assert.equal(fitting(ends, 49), 3);
  assert.equal(fitting(ends, 50), 4);
  assert.equal(fitting(ends, 1e9), 4);
  assert.equal(fitting([], 100), 0);
});

test('stream paths accept a trailing slash and a query', () => {
  assert.equal(streamForPath('/'), 'lite');
  assert.equal(streamForPath('/?x=1'), 'lite');
  assert.equal(streamForPath('/full-stream'), 'full');
  assert.equal(streamForPath('/full-stream/'), 'full');
  assert.equal(streamForPath('/domains-only'), 'domains');
  assert.equal(streamForPath('/domains-only/?a'), 'domains');
  assert.equal(streamForPath('/latest.json'), undefined);
  assert.equal(streamForPath('/full-stream//'), undefined);
  assert.equal(streamForPath('//'), undefined);
  assert.equal(streamForPath(undefined), undefined);
});

test('recent messages: newest batch first, ascending within a batch, 25 at most', () => {
  const r = new RecentMessages(25);
  assert.equal(r.exampleJson(), 'null');
  assert.equal(r.latestJson(), '{"messages":[]}');
  r.addBatch(['1', '2', '3']);
  r.addBatch(['4', '5']);
  assert.deepEqual(r.list(), ['4', '5', '1', '2', '3']);
  assert.equal(r.exampleJson(), '4');
  assert.deepEqual(JSON.parse(r.latestJson()), { messages: [4, 5, 1, 2, 3] });
  r.addBatch(Array.from({ length: 30 }, (_, i) => String(100 + i)));
  assert.equal(r.list().length, 25);
  assert.equal(r.list()[0], '105');
  assert.equal(r.list()[24], '129');
  r.addBatch(['7']);
  assert.equal(r.list().length, 25);
  assert.deepEqual(r.list().slice(0, 2), ['7', '105']);
});
