// The index of each sealed segment (segment-index.ts, issue 20 §2): opening the window takes closed
// segments from their indexes without opening their files; a missing, damaged or stale index costs a
// scan that writes it again, and nothing is lost when a writer is killed mid-roll or mid-index-write.
// Real segment files of real CT entries (unique leaves, compact records) in a temporary directory; the
// files the window opens are observed through node:fs's own exports (syncBuiltinESMExports).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs, { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createLogger } from '../../src/log/logger.js';
import { LocalReplayWindow, REPLAY_DIR } from '../../src/replay/local-replay-window.js';
import { RECORD_HEADER_BYTES } from '../../src/replay/record-codec.js';
import type { WindowEntry } from '../../src/replay/replay-window.js';
import { Renderer } from '../../src/render/renderer.js';
import { waitUntil } from '../support/wait-until.js';
import { uniqueLeafSource } from './unique-leaves.js';

const NOW = 1_780_000_000_000;
const ROOT = resolve(import.meta.dirname, '../..');
const STREAMS = ['lite', 'full', 'domains'] as const;

function stateDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'segment-index-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Real entries, every leaf distinct, rendered as the ingest renders them (compact records). */
const ENTRIES: WindowEntry[] = (() => {
  const source = uniqueLeafSource();
  const r = new Renderer();
  return Array.from({ length: 150 }, (_, i) => {
    const { log, entry } = source.entry(i);
    const seen = NOW / 1000 + i / 10;
    const f = r.render(log, entry, seen);
    return { log: log.url, index: i, seen, lite: f.lite, full: f.full, domains: f.domains };
  });
})();

function openWindow(dir: string, lines: string[] = []): LocalReplayWindow {
  const logger = createLogger({ write: (l) => lines.push((JSON.parse(l) as { msg: string }).msg) });
  return LocalReplayWindow.open({ stateDir: dir, windowSeconds: 1e9, maxBytes: 1e9, cacheBytes: 0, segmentBytes: 40_000, now: () => NOW, logger });
}

/** ENTRIES written in batches of 10 to a window in several segments, then closed. */
async function writtenWindow(dir: string): Promise<void> {
  const w = openWindow(dir);
  for (let i = 0; i < ENTRIES.length; i += 10) w.append(ENTRIES.slice(i, i + 10));
  await w.close();
}

const replayFile = (dir: string, name: string) => join(dir, REPLAY_DIR, name);
const named = (dir: string, ext: string) => readdirSync(join(dir, REPLAY_DIR)).filter((f) => f.endsWith(ext)).sort();

/** Every frame of every stream, following `next`, and the seqs left out. */
async function frames(w: LocalReplayWindow): Promise<{ frames: Record<string, string[]>; skipped: number }> {
  const out: Record<string, string[]> = {};
  let skipped = 0;
  for (const s of STREAMS) {
    out[s] = [];
    for (let seq = w.firstSeq; seq < w.nextSeq; ) {
      const r = await w.read(s, seq, 16 * 1024);
      for (const p of r.batch.payloads) out[s].push(p.toString('utf8'));
      skipped += r.next - seq - r.batch.ends.length;
      seq = r.next;
    }
  }
  return { frames: out, skipped };
}

/** Asserts that the window replays `expected` byte-identical on every stream, nothing skipped. */
async function assertReplays(w: LocalReplayWindow, expected: readonly WindowEntry[]): Promise<void> {
  const got = await frames(w);
  assert.equal(got.skipped, 0, 'no seq skipped');
  for (const s of STREAMS) assert.deepEqual(got.frames[s], expected.map((e) => e[s]), `${s} byte-identical`);
}

/** The segment files `open` opens (a scan opens the file; an open from the index only stats it). */
function openedSegments(t: TestContext): string[] {
  const opened: string[] = [];
  const original = fs.openSync;
  fs.openSync = ((path: fs.PathLike, ...rest: unknown[]) => {
    if (String(path).endsWith('.seg')) opened.push(String(path).split('/').pop()!);
    return (original as (...a: unknown[]) => number)(path, ...rest);
  }) as typeof fs.openSync;
  syncBuiltinESMExports();
  t.after(() => {
    fs.openSync = original;
    syncBuiltinESMExports();
  });
  return opened;
}

test('open takes every closed segment from its index without opening it; the frames, seqs and dedupe are as after a scan', async (t) => {
  const dir = stateDir(t);
  await writtenWindow(dir);
  const segs = named(dir, '.seg');
  assert.ok(segs.length >= 4, `${segs.length} segments`);
  assert.deepEqual(named(dir, '.idx'), segs.slice(0, -1).map((s) => s.replace('.seg', '.idx')), 'an index per sealed segment, none for the open one');
  const opened = openedSegments(t);
  const w = openWindow(dir);
  assert.deepEqual(opened, [segs[segs.length - 1], segs[segs.length - 1]], 'only the newest segment is opened (scanned, then for writing)');
  assert.equal(w.nextSeq, ENTRIES.length);
  await assertReplays(w, ENTRIES);
  // The per-log dedupe came from the indexes too: entries already held are not appended again.
  assert.equal(w.append(ENTRIES.slice(0, 20)).appended.length, 0);
  await w.close();
});

test('a missing, a byte-flipped and a truncated index are each rebuilt by a scan (one log line each), identical to the lost one', async (t) => {
  const dir = stateDir(t);
  await writtenWindow(dir);
  const idx = named(dir, '.idx');
  assert.ok(idx.length >= 3);
  const original = idx.map((f) => readFileSync(replayFile(dir, f)));
  rmSync(replayFile(dir, idx[0]));
  const flipped = Buffer.from(original[1]);
  flipped[Math.floor(flipped.length / 2)] ^= 0x01;
  writeFileSync(replayFile(dir, idx[1]), flipped);
  truncateSync(replayFile(dir, idx[2]), original[2].length - 3);
  const lines: string[] = [];
  const opened = openedSegments(t);
  const w = openWindow(dir, lines);
  assert.equal(lines.filter((l) => l.includes('no usable index')).length, 3, lines.join(' | '));
  assert.deepEqual(opened.slice(0, 3), idx.slice(0, 3).map((f) => f.replace('.idx', '.seg')), 'the three segments scanned');
  await assertReplays(w, ENTRIES);
  await w.close();
  for (let k = 0; k < 3; k++) assert.ok(readFileSync(replayFile(dir, idx[k])).equals(original[k]), `${idx[k]} rebuilt byte-identical`);
  // And the next open takes them from the rebuilt indexes.
  opened.length = 0;
  const w2 = openWindow(dir);
  assert.equal(opened.length, 2, `only the newest segment opened: ${opened.join(', ')}`);
  await w2.close();
});

test('a closed segment whose size no longer matches its index is scanned, not read through the stale index', async (t) => {
  const dir = stateDir(t);
  await writtenWindow(dir);
  const seg = replayFile(dir, named(dir, '.seg')[1]);
  // Cut the segment's last two records off (at a record boundary: what a scan reads as a shorter segment).
  const buf = readFileSync(seg);
  const offsets: number[] = [];
  for (let at = 0; at < buf.length; at += RECORD_HEADER_BYTES + (buf.readUInt32LE(at) & 0x7fffffff)) offsets.push(at);
  truncateSync(seg, offsets[offsets.length - 2]);
  const lines: string[] = [];
  const w = openWindow(dir, lines);
  assert.equal(lines.filter((l) => l.includes('no usable index')).length, 1, lines.join(' | '));
  const got = await frames(w);
  // The two records cut are gone (their seqs skipped); no read went past the file's end into "damage".
  assert.equal(got.skipped, 2 * STREAMS.length, '2 seqs on each stream');
  assert.equal(w.corruptRecords, 0, 'nothing read as damaged');
  assert.equal(got.frames.full.length, ENTRIES.length - 2);
  await w.close();
});

test('a torn index temp file (kill -9 between write and rename) is removed, and the index is rebuilt from the segment', async (t) => {
  const dir = stateDir(t);
  await writtenWindow(dir);
  const idx = named(dir, '.idx')[0];
  const body = readFileSync(replayFile(dir, idx));
  // The first index write cut short: a torn temp file and no index under the final name.
  writeFileSync(replayFile(dir, `${idx}.tmp`), body.subarray(0, body.length >> 1));
  rmSync(replayFile(dir, idx));
  const lines: string[] = [];
  const w = openWindow(dir, lines);
  assert.ok(!existsSync(replayFile(dir, `${idx}.tmp`)), 'temp file removed');
  assert.ok(readFileSync(replayFile(dir, idx)).equals(body), 'index rebuilt byte-identical');
  assert.equal(lines.filter((l) => l.includes('no usable index')).length, 1);
  await assertReplays(w, ENTRIES);
  await w.close();
});

test('kill -9 of a writer that rolls a segment (and writes an index) every few appends: nothing appended is lost, no temp file stays', async (t) => {
  const dir = stateDir(t);
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/replay/window-writer-child.ts', dir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => child.kill('SIGKILL'));
  let appended = 0;
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString('utf8');
    const m = /appended (\d+)\n(?!.*appended)/s.exec(out);
    if (m) appended = Number(m[1]);
  });
  await waitUntil('the child to append 1,500 entries', 60_000, () => appended >= 1_500);
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
  const reported = appended;
  const lines: string[] = [];
  const w = openWindow(dir, lines);
  assert.ok(w.nextSeq >= reported, `${w.nextSeq} entries held, ${reported} reported appended`);
  assert.deepEqual(named(dir, '.tmp'), [], 'no temp file left');
  const got = await frames(w);
  assert.equal(got.skipped, 0);
  assert.deepEqual(got.frames.lite.slice(0, reported), Array.from({ length: reported }, (_, i) => `{"i":${i}}`));
  await w.close();
  // Every closed segment has its index now (the one being written when killed was rebuilt, if any).
  const segs = named(dir, '.seg');
  assert.deepEqual(named(dir, '.idx'), segs.slice(0, -1).map((s) => s.replace('.seg', '.idx')));
  const size = segs.reduce((n, s) => n + statSync(replayFile(dir, s)).size, 0);
  assert.ok(size > 0);
});
