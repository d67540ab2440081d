import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatStatus, StatusLine } from '../../../src/cli/certaudit/status-line.js';
import { withDeadline } from '../../audit/support/deadline.js';

test('the status line shows elapsed time, state, entries and misses of each feed', () => {
  assert.equal(
    formatStatus(83.7, [
      { name: 'a', up: true, entries: 1234, missed: 3 },
      { name: 'b', up: false, entries: 1200, missed: 0 },
    ]),
    '1 minute 23 seconds | a up 1234 entries, 3 missed | b DOWN 1200 entries, 0 missed',
  );
  assert.equal(formatStatus(0, [{ name: 'ws://x/', up: true, entries: 5 }]), '0 seconds | ws://x/ up 5 entries');
});

test('nothing is drawn when the stream is not a terminal', () => {
  const written: string[] = [];
  const stream = { isTTY: false, write: (s: string) => written.push(s) } as unknown as NodeJS.WriteStream;
  const line = new StatusLine(() => 'status', stream);
  line.start();
  line.stop();
  assert.deepEqual(written, []);
});

test('on a terminal the line is drawn in place, cut to the width, and erased on stop', async () => {
  const written: string[] = [];
  let drawn: () => void = () => undefined;
  const firstDraw = new Promise<void>((resolve) => (drawn = resolve));
  const stream = {
    isTTY: true,
    columns: 10,
    write: (s: string) => {
      written.push(s);
      drawn();
      return true;
    },
  } as unknown as NodeJS.WriteStream;
  let renders = 0;
  const line = new StatusLine(() => `status ${++renders} of a long line`, stream);
  line.start();
  await withDeadline(firstDraw, 'the first draw of the status line', 5_000);
  line.stop();
  // Carriage return + erase-line, then the text cut to columns - 1 so the terminal never wraps.
  assert.deepEqual(written, ['\r\x1b[Kstatus 1 ', '\r\x1b[K']);
  line.stop();
  assert.equal(written.length, 2, 'a second stop draws nothing');
});
