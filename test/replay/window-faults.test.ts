// The local replay window against damaged and vanished files and failing system calls (issue 18 §2), on
// real segment files in a temporary directory: bytes flipped on disk, a length field overwritten, a
// segment unlinked while the window runs; fdatasync, fsync and open intercepted through the node:fs
// module's own exports (syncBuiltinESMExports), the window unchanged.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs, { closeSync, mkdtempSync, openSync, readFileSync, readdirSync, readlinkSync, readSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { createLogger } from '../../src/log/logger.js';
import { LocalReplayWindow, REPLAY_DIR, type LocalReplayWindowOptions } from '../../src/replay/local-replay-window.js';
import { RECORD_HEADER_BYTES } from '../../src/replay/record-codec.js';
import type { WindowEntry } from '../../src/replay/replay-window.js';
import { waitUntil } from '../support/wait-until.js';

const NOW = 1_700_000_000_000;

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'window-faults-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Entries of about 1 KB, each frame naming its index (so a damaged one would show). */
function entries(n: number, from = 0): WindowEntry[] {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    const full = JSON.stringify({ message_type: 'certificate_update', data: { cert_index: i, leaf: 'x'.repeat(1000), chain: ['c'] } });
    return { log: 'https://log.example/', index: i, seen: NOW / 1000 + i, lite: JSON.stringify({ data: { cert_index: i } }), full, domains: `["d${i}.example"]` };
  });
}

function open(dir: string, lines: Record<string, unknown>[] = [], over: Partial<LocalReplayWindowOptions> = {}): LocalReplayWindow {
  const logger = createLogger({ write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) });
  return LocalReplayWindow.open({ stateDir: dir, windowSeconds: 1e9, maxBytes: 1e9, cacheBytes: 0, segmentBytes: 20_000, now: () => NOW, logger, ...over });
}

/** Appends `all` four at a time (the segments in these tests hold a few records each). */
function appendInFours(w: LocalReplayWindow, all: readonly WindowEntry[]): void {
  for (let i = 0; i < all.length; i += 4) w.append(all.slice(i, i + 4));
}

/** A window of `n` entries written and closed: its entries and segment files. */
async function closedWindow(dir: string, n: number): Promise<{ all: WindowEntry[]; files: string[] }> {
  const all = entries(n);
  const w = open(dir);
  appendInFours(w, all);
  await w.close();
  return { all, files: segmentFiles(dir) };
}

/** Reads one stream to the end by following `next`; returns the frames' indexes and the seqs left out. */
async function readToEnd(w: LocalReplayWindow, stream: 'full' | 'lite' = 'full'): Promise<{ payloads: number[]; skipped: number }> {
  const payloads: number[] = [];
  let skipped = 0;
  let seq = w.firstSeq;
  while (seq < w.nextSeq) {
    const r = await w.read(stream, seq, 8_000);
    assert.ok(r.next > seq, `read at ${seq} made progress`);
    // The frame's index (a damaged frame would not parse, or would name another index).
    for (const p of r.batch.payloads) payloads.push((JSON.parse(p.toString('utf8')) as { data: { cert_index: number } }).data.cert_index);
    skipped += r.next - seq - r.batch.ends.length;
    seq = r.next;
  }
  return { payloads, skipped };
}

function segmentFiles(dir: string): string[] {
  return readdirSync(join(dir, REPLAY_DIR)).filter((f) => f.endsWith('.seg')).sort().map((f) => join(dir, REPLAY_DIR, f));
}

/** Offsets of the records in a segment file, by walking their length fields. */
function recordOffsets(path: string): number[] {
  const buf = readFileSync(path);
  const out: number[] = [];
  for (let at = 0; at < buf.length; at += RECORD_HEADER_BYTES + buf.readUInt32LE(at)) out.push(at);
  return out;
}

/** Overwrites bytes of a file in place (what a bad sector or a stray write does). */
function poke(path: string, offset: number, bytes: Buffer): void {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, bytes, 0, bytes.length, offset);
  } finally {
    closeSync(fd);
  }
}

function flipByte(path: string, offset: number): void {
  const b = Buffer.alloc(1);
  const fd = openSync(path, 'r');
  readSync(fd, b, 0, 1, offset);
  closeSync(fd);
  poke(path, offset, Buffer.from([b[0] ^ 0x5a]));
}

const fullOf = (list: WindowEntry[]) => list.map((e) => e.index);

/** Replaces a function of node:fs for the ESM importers too, until the test ends. */
function intercept<K extends 'fdatasync' | 'fsyncSync' | 'openSync'>(t: TestContext, name: K, make: (original: (typeof fs)[K]) => (typeof fs)[K]): void {
  const original = fs[name];
  fs[name] = make(original);
  syncBuiltinESMExports();
  t.after(() => {
    fs[name] = original;
    syncBuiltinESMExports();
  });
}

test('a record flipped in a closed segment while the window runs is skipped when read, counted once, never sent', async (t) => {
  const dir = tempDir(t);
  const registry = new Registry();
  const lines: Record<string, unknown>[] = [];
  const w = open(dir, lines, { registry });
  const all = entries(80);
  appendInFours(w, all);
  const files = segmentFiles(dir);
  assert.ok(files.length >= 3, `${files.length} segments`);
  // Record 3 of the first (closed) segment: a byte in its body, mid-JSON.
  const offsets = recordOffsets(files[0]);
  const firstSeqOfSegment0 = 0;
  flipByte(files[0], offsets[3] + 400);
  const { payloads, skipped } = await readToEnd(w);
  const expected = fullOf(all).filter((_, i) => i !== firstSeqOfSegment0 + 3);
  assert.deepEqual(payloads, expected, 'every intact frame, and not the damaged one');
  assert.equal(skipped, 1);
  // A second reader skips it too, without counting it again.
  assert.deepEqual((await readToEnd(w, 'full')).payloads, expected);
  assert.equal(w.corruptRecords, 1);
  const metric = (await registry.getSingleMetric('certstream_replay_window_corrupt_records_total')!.get()).values[0].value;
  assert.equal(metric, 1);
  // Another damaged record read within the minute: counted, not logged again.
  flipByte(files[1], recordOffsets(files[1])[2] + 300);
  assert.equal((await readToEnd(w)).skipped, 2);
  assert.equal(w.corruptRecords, 2);
  assert.equal(lines.filter((l) => String(l.msg).includes('damaged records')).length, 1, 'one log line a minute');
  await w.close();
});

test('a damaged record in a closed segment found after a restart is skipped (CRC), its neighbours and seqs kept', async (t) => {
  const dir = tempDir(t);
  const { all, files } = await closedWindow(dir, 80);
  flipByte(files[0], recordOffsets(files[0])[5] + 200);
  const registry = new Registry();
  const w2 = open(dir, [], { registry });
  assert.equal(w2.nextSeq, 80);
  const { payloads, skipped } = await readToEnd(w2);
  assert.deepEqual(payloads, fullOf(all).filter((_, i) => i !== 5));
  assert.equal(skipped, 1);
  assert.equal(w2.corruptRecords, 1, 'counted once');
  assert.equal((await readToEnd(w2)).skipped, 1);
  assert.equal(w2.corruptRecords, 1, 'not again when read again');
  await w2.close();
});

test('a corrupted length field in a closed segment does not cut the rest of it', async (t) => {
  const dir = tempDir(t);
  const { all, files } = await closedWindow(dir, 80);
  const seg0 = recordOffsets(files[0]);
  const size0 = statSync(files[0]).size;
  // Record 2's length: far too large (out of range), in the first segment of several.
  poke(files[0], seg0[2], Buffer.from([0xf0, 0xff, 0xff, 0x0f]));
  // And in the second one, a length still in range but wrong (reads into the next record).
  const seg1 = recordOffsets(files[1]);
  const seg1First = seg0.length;
  const wrong = Buffer.alloc(4);
  wrong.writeUInt32LE(readFileSync(files[1]).readUInt32LE(seg1[1]) + 50);
  poke(files[1], seg1[1], wrong);
  const w2 = open(dir);
  assert.equal(statSync(files[0]).size, size0, 'nothing cut from a closed segment');
  const { payloads, skipped } = await readToEnd(w2);
  assert.deepEqual(payloads, fullOf(all).filter((_, i) => i !== 2 && i !== seg1First + 1), 'only the two damaged records are missing');
  assert.equal(skipped, 2);
  assert.equal(w2.corruptRecords, 2);
  assert.equal(w2.nextSeq, 80, 'the seqs after them are the ones they had');
  await w2.close();
});

test('a flip mid-way in the newest segment keeps the records after it; only a torn tail at its very end is cut', async (t) => {
  const dir = tempDir(t);
  const all = entries(40);
  const w = open(dir, [], { segmentBytes: 1e9 });
  w.append(all);
  await w.close();
  const [seg] = segmentFiles(dir);
  const offsets = recordOffsets(seg);
  const whole = statSync(seg).size;
  flipByte(seg, offsets[10] + 100);
  poke(seg, offsets[20], Buffer.from([0xff, 0xff, 0xff, 0xff]));
  // And half a record at the end: a write cut by a kill -9.
  fs.appendFileSync(seg, Buffer.from([200, 1, 0, 0, 7, 7, 7, 7, 1, 2, 3]));
  const lines: Record<string, unknown>[] = [];
  const w2 = open(dir, lines, { segmentBytes: 1e9 });
  assert.equal(statSync(seg).size, whole, 'only the torn tail was cut');
  assert.equal(w2.nextSeq, 40);
  assert.equal(w2.corruptRecords, 2);
  const { payloads } = await readToEnd(w2);
  assert.deepEqual(payloads, fullOf(all).filter((_, i) => i !== 10 && i !== 20), 'the 19 records after the second flip are kept');
  // Appends go on after the last whole record, with the next seq.
  w2.append(entries(3, 40));
  assert.equal(w2.nextSeq, 43);
  assert.deepEqual((await readToEnd(w2)).payloads.slice(-3), fullOf(entries(3, 40)));
  await w2.close();
});

test('a closed segment deleted under the window: dropped with one log line, readers continue after it and count the loss', async (t) => {
  const dir = tempDir(t);
  const lines: Record<string, unknown>[] = [];
  const w = open(dir, lines, { trimIntervalMs: 10 });
  const all = entries(80);
  appendInFours(w, all);
  const files = segmentFiles(dir);
  const lost = recordOffsets(files[1]).length;
  const firstLost = recordOffsets(files[0]).length;
  unlinkSync(files[1]);
  const { payloads, skipped } = await readToEnd(w);
  assert.deepEqual(payloads, fullOf(all).filter((_, i) => i < firstLost || i >= firstLost + lost));
  assert.equal(skipped, lost, 'the frames lost are what the reader counts');
  assert.equal(lines.filter((l) => String(l.msg).includes('vanished')).length, 1, 'one log line');
  assert.equal(w.nextSeq, 80);
  // The first segment too, while its read handle is open (reads from it would still work): the
  // periodic check notices, and the window's start moves.
  unlinkSync(files[0]);
  await waitUntil('the first segment dropped', 5000, () => w.firstSeq === firstLost + lost);
  const again = await readToEnd(w);
  assert.deepEqual(again.payloads, fullOf(all).slice(firstLost + lost));
  await w.close();
});

test('the active segment deleted: sealed, writing goes on in a new file, and a restart keeps what came after', async (t) => {
  const dir = tempDir(t);
  const lines: Record<string, unknown>[] = [];
  const w = open(dir, lines, { segmentBytes: 1e9 });
  w.append(entries(10));
  const [active] = segmentFiles(dir);
  unlinkSync(active);
  w.append(entries(10, 10));
  assert.equal(w.nextSeq, 20);
  assert.equal(segmentFiles(dir).length, 1, 'a new segment file');
  assert.ok(lines.some((l) => String(l.msg).includes('segment being written was deleted')));
  await w.close();
  const w2 = open(dir, [], { segmentBytes: 1e9 });
  assert.equal(w2.firstSeq, 10, 'the entries written before the deletion are gone, and only they');
  assert.equal(w2.nextSeq, 20, 'seqs are not given out again after a restart');
  assert.deepEqual((await readToEnd(w2)).payloads, fullOf(entries(10, 10)));
  await w2.close();
});

test('sync: a second caller while a sync is under way waits for its data to be on disk', async (t) => {
  const dir = tempDir(t);
  const w = open(dir);
  const held: (() => void)[] = [];
  intercept(t, 'fdatasync', (original) => ((fd: number, cb: (err: NodeJS.ErrnoException | null) => void) => {
    held.push(() => original(fd, cb));
  }) as typeof fs.fdatasync);
  w.append(entries(2));
  let firstDone = false;
  let secondDone = false;
  const first = w.sync().then(() => (firstDone = true));
  const second = w.sync().then(() => (secondDone = true));
  // Appended meanwhile: needs an fdatasync of its own, after the one under way.
  w.append(entries(2, 2));
  let thirdDone = false;
  const third = w.sync().then(() => (thirdDone = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(secondDone, false, 'the second caller did not return before the data is on disk');
  assert.equal(held.length, 1, 'one fdatasync under way');
  held.shift()!();
  await first;
  await second;
  assert.equal(firstDone && secondDone, true);
  assert.equal(thirdDone, false);
  await new Promise((r) => setImmediate(r));
  assert.equal(held.length, 1, 'the third caller got a sync of its own');
  held.shift()!();
  await third;
  const closing = w.close();
  await new Promise((r) => setImmediate(r));
  held.splice(0).forEach((go) => go());
  await closing;
});

test('creating a segment fsyncs the replay directory', async (t) => {
  const dir = tempDir(t);
  const synced: string[] = [];
  intercept(t, 'fsyncSync', (original) => ((fd: number) => {
    try {
      synced.push(readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      // not a path
    }
    original(fd);
  }) as typeof fs.fsyncSync);
  const w = open(dir, [], { segmentBytes: 5_000 });
  const replay = join(dir, REPLAY_DIR);
  assert.ok(synced.includes(replay), 'the first segment');
  synced.length = 0;
  w.append(entries(8));
  w.append(entries(1, 8)); // rolls
  assert.equal(segmentFiles(dir).length, 2);
  assert.ok(synced.includes(replay), `the rolled-to segment (fsynced: ${synced.join(', ')})`);
  await w.close();
});

test('roll: when the next segment cannot be opened (EMFILE) the window keeps writing the current one', async (t) => {
  const dir = tempDir(t);
  let failOpens = 0;
  intercept(t, 'openSync', (original) => ((path: fs.PathLike, ...rest: unknown[]) => {
    if (failOpens > 0 && String(path).endsWith('.seg')) {
      failOpens--;
      throw Object.assign(new Error('EMFILE: too many open files'), { code: 'EMFILE' });
    }
    return (original as (...a: unknown[]) => number)(path, ...rest);
  }) as typeof fs.openSync);
  const w = open(dir, [], { segmentBytes: 5_000 });
  w.append(entries(8));
  failOpens = 1;
  w.append(entries(4, 8)); // due to roll: the open fails
  // Whatever the process opens next takes the lowest free descriptor number.
  const bystander = join(dir, 'bystander');
  const fd = openSync(bystander, 'w');
  t.after(() => closeSync(fd));
  w.append(entries(4, 12));
  assert.equal(statSync(bystander).size, 0, 'no record went into another file');
  assert.equal(w.nextSeq, 16);
  assert.deepEqual((await readToEnd(w)).payloads, fullOf(entries(16)));
  await w.close();
  const w2 = open(dir);
  assert.deepEqual((await readToEnd(w2)).payloads, fullOf(entries(16)), 'and on disk');
  await w2.close();
});
