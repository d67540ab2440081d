// The index of each sealed segment (segment-index.ts, issue 20 §2): opening the window takes closed
// segments from their indexes without opening their files; a missing, damaged or stale index costs a
// scan that writes it again, and nothing is lost when a writer is killed mid-roll or mid-index-write.
// Real segment files of real CT entries (unique leaves, compact records) in a temporary directory; the
// files the window opens are observed through node:fs's own exports (syncBuiltinESMExports).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs, { mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
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
    return { log: log.url, index: i, seen, lite: f.lite, full: f.full, domains: f.domains, parts: f.parts };
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

test('torn index temp files (kill -9 between write and rename, of a first write and of a rewrite) are removed; indexes stay or are rebuilt', async (t) => {
  const dir = stateDir(t);
  await writtenWindow(dir);
  const [idx0, idx1] = named(dir, '.idx');
  const body0 = readFileSync(replayFile(dir, idx0));
  const body1 = readFileSync(replayFile(dir, idx1));
  // The first write of idx0 cut short: a torn temp file and no index under the final name.
  writeFileSync(replayFile(dir, `${idx0}.tmp`), body0.subarray(0, body0.length >> 1));
  rmSync(replayFile(dir, idx0));
  // A rewrite of idx1 cut short: a torn temp file next to the intact index.
  writeFileSync(replayFile(dir, `${idx1}.tmp`), body1.subarray(0, body1.length >> 1));
  const lines: string[] = [];
  const opened = openedSegments(t);
  const w = openWindow(dir, lines);
  assert.deepEqual(named(dir, '.tmp'), [], 'temp files removed');
  assert.ok(readFileSync(replayFile(dir, idx0)).equals(body0), 'idx0 rebuilt byte-identical');
  assert.ok(readFileSync(replayFile(dir, idx1)).equals(body1), 'idx1 kept');
  assert.equal(lines.filter((l) => l.includes('no usable index')).length, 1);
  assert.deepEqual(opened.slice(0, 1), [idx0.replace('.idx', '.seg')], 'only the segment without an index scanned');
  await assertReplays(w, ENTRIES);
  await w.close();
});

/** Runs the writer child on `dir` until `stop` holds for its output, then kill -9; the entries it reported appended. */
async function killedWriter(t: TestContext, dir: string, args: string[], stop: (out: string, appended: number) => boolean): Promise<number> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/replay/window-writer-child.ts', dir, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => child.kill('SIGKILL'));
  const exited = new Promise((r) => child.once('exit', r));
  let out = '';
  let appended = 0;
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString('utf8');
    const all = [...out.matchAll(/appended (\d+)\n/g)];
    if (all.length > 0) appended = Number(all[all.length - 1][1]);
  });
  await waitUntil('the writer child to get there', 60_000, () => stop(out, appended));
  child.kill('SIGKILL');
  await exited;
  return appended;
}

test('kill -9 of a writer during an index write, then during appends and rolls: nothing appended is lost, every sealed segment indexed', async (t) => {
  const dir = stateDir(t);
  // Round 1: killed in the middle of its 10th index write (temp file half written, not renamed).
  await killedWriter(t, dir, ['10'], (out) => out.includes('index-write'));
  // Round 2: a writer that opens that window and appends (rolling, writing indexes) until killed at random.
  const reported = await killedWriter(t, dir, [], (_, appended) => appended >= 1_500);
  const w = openWindow(dir);
  assert.ok(w.nextSeq >= reported, `${w.nextSeq} entries held, ${reported} reported appended`);
  assert.deepEqual(named(dir, '.tmp'), [], 'no temp file left');
  const got = await frames(w);
  assert.equal(got.skipped, 0);
  assert.deepEqual(got.frames.lite.slice(0, reported), Array.from({ length: reported }, (_, i) => `{"i":${i}}`));
  await w.close();
  const segs = named(dir, '.seg');
  assert.ok(segs.length > 10);
  assert.deepEqual(named(dir, '.idx'), segs.slice(0, -1).map((s) => s.replace('.seg', '.idx')), 'an index per sealed segment');
});
