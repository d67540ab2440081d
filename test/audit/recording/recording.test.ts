import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeEvent, encodeEvent, type FeedEvent } from '../../../src/audit/feeds/feed-event.js';
import { isCertstreamError } from '../../../src/errors.js';
import { RecordingWriter } from '../../../src/audit/recording/recording-writer.js';
import { compareRecordings, recordingBounds } from '../../../src/audit/recording/recording-replay.js';

const T0 = 1_800_000_000_000;

test('every event kind survives encode → decode', () => {
  const events: FeedEvent[] = [
    { ev: 'start', t: T0, feed: 'ws://x/', v: 1 },
    { ev: 'connect', t: T0 + 1 },
    { ev: 'entry', t: T0 + 2, log: 'ct.example/"quoted"', index: 42 },
    { ev: 'range', t: T0 + 3, log: 'l', lo: 5, hi: 9 },
    { ev: 'heartbeat', t: T0 + 4 },
    { ev: 'other', t: T0 + 5 },
    { ev: 'disconnect', t: T0 + 6, code: 1006, reason: 'socket hang up' },
    { ev: 'disconnect', t: T0 + 7 },
    { ev: 'end', t: T0 + 8 },
  ];
  for (const e of events) {
    const line = encodeEvent(e);
    assert.ok(line.endsWith('\n') && !line.slice(0, -1).includes('\n'));
    assert.deepEqual(decodeEvent(line.slice(0, -1), 'x'), e);
  }
});

test('bad lines are AUDIT_ERR_BAD_RECORDING with file and line', () => {
  for (const line of ['nope', '[]', '{"ev":"entry","t":1,"log":"l"}', '{"ev":"bogus","t":1}', '{"ev":"start","t":1,"feed":"x","v":2}', '{"ev":"range","t":1,"log":"l","lo":5,"hi":4}']) {
    assert.throws(() => decodeEvent(line, 'f.ndjson:7'), (err: unknown) => isCertstreamError(err, 'AUDIT_ERR_BAD_RECORDING') && err.message.startsWith('f.ndjson:7: '), line);
  }
});

test('the writer flushes without close (a crash loses at most the unflushed second) and replay tolerates a cut last line', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'certaudit-rec-'));
  try {
    const path = join(dir, 'a.ndjson');
    const w = await RecordingWriter.open(path, { feed: 'ws://a/', startMs: T0, flushIntervalMs: 60_000 });
    w.write({ ev: 'connect', t: T0 });
    for (let i = 0; i < 10; i++) w.write({ ev: 'entry', t: T0 + 10 + i, log: 'l', index: i });
    await w.flush();
    const text = await readFile(path, 'utf8');
    assert.equal(text.split('\n').length, 13, 'start + connect + 10 entries + trailing newline');
    // Simulate a crash in the middle of a line: no end line, a half-written last line.
    await appendFile(path, '{"ev":"entry","t":18000000');
    const b = join(dir, 'b.ndjson');
    const lines = [
      { ev: 'start', t: T0, feed: 'ws://b/', v: 1 },
      { ev: 'connect', t: T0 },
      ...Array.from({ length: 12 }, (_, i) => ({ ev: 'entry', t: T0 + 10 + i, log: 'l', index: i })),
      { ev: 'end', t: T0 + 100 },
    ];
    await writeFile(b, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    assert.deepEqual(await recordingBounds(path), { feed: 'ws://a/', startMs: T0, endMs: T0 + 19 });
    const { report } = await compareRecordings(path, b, 0);
    assert.deepEqual(report.window, { start: T0 / 1000, end: (T0 + 19) / 1000 });
    // b's entries 10 and 11 arrived after a's recording ended: outside the window.
    assert.equal(report.logs[0].union, 10);
    assert.equal(report.logs[0].missed_by_a, 0);
    await w.close(T0 + 20);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a file that is not a recording is refused', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'certaudit-rec-'));
  try {
    const p = join(dir, 'x.json');
    await writeFile(p, '{"hello":1}\n');
    await assert.rejects(recordingBounds(p), (err: unknown) => isCertstreamError(err, 'AUDIT_ERR_BAD_RECORDING'));
    await assert.rejects(recordingBounds(join(dir, 'missing')), (err: unknown) => isCertstreamError(err, 'AUDIT_ERR_BAD_RECORDING'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('two short recordings are judged in full, as a live --duration run, whatever the grace', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'certaudit-rec-'));
  try {
    const write = async (name: string, skip: number[], extra: FeedEvent[] = []) => {
      const events: FeedEvent[] = [
        { ev: 'start', t: T0, feed: `ws://${name}/`, v: 1 },
        { ev: 'connect', t: T0 },
        ...Array.from({ length: 100 }, (_, i): FeedEvent => ({ ev: 'entry', t: T0 + 10 + i * 10, log: 'l', index: i })).filter(
          (e) => e.ev === 'entry' && !skip.includes(e.index),
        ),
        ...extra,
      ];
      events.push({ ev: 'end', t: events[events.length - 1].t + 1 });
      await writeFile(join(dir, `${name}.ndjson`), events.map(encodeEvent).join(''));
    };
    // b recorded a little longer: its entry 100 arrives after the window and is not judged.
    await write('a', [37, 50]);
    await write('b', [], [{ ev: 'entry', t: T0 + 3_000, log: 'l', index: 100 }]);
    const { report } = await compareRecordings(join(dir, 'a.ndjson'), join(dir, 'b.ndjson'), 60_000);
    assert.equal(report.judged, true);
    assert.deepEqual(
      [report.logs[0].union, report.logs[0].missed_by_a, report.logs[0].missed_by_b, report.logs[0].gaps_a],
      [100, 2, 0, 2],
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
