// Compact window records (issue 20 §1) on real rendered CT entries made unique (unique-leaves.ts): each
// distinct chain certificate is stored once per segment, the rest deflated, and every stream replays
// byte-identically to the Renderer's output — from memory, from disk, and after a restart (certificates
// read back from the records that define them). A damaged defining record makes the records naming its
// certificate skipped and counted, never framed wrong; segments of plain records and of format 1 compact
// records (earlier releases) are still read; an entry without the renderer's parts is stored plainly.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, readdirSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { crc32 } from 'node:zlib';
import { compactChain, compactDefs, compactLayout, isCompact } from '../../src/replay/compact-record.js';
import { LocalReplayWindow, REPLAY_DIR } from '../../src/replay/local-replay-window.js';
import { encodeRecord } from '../../src/replay/record-codec.js';
import type { WindowEntry } from '../../src/replay/replay-window.js';
import { segmentName } from '../../src/replay/segment.js';
import { Renderer } from '../../src/render/renderer.js';
import { uniqueLeafSource } from './unique-leaves.js';

const NOW = 1_780_000_000_000;

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'compact-records-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** `n` real entries with unique leaves, as the ingest renders them. */
function uniqueEntries(n: number): WindowEntry[] {
  const source = uniqueLeafSource();
  const r = new Renderer();
  return Array.from({ length: n }, (_, i) => {
    const { log, entry } = source.entry(i);
    const seen = NOW / 1000 + i / 100;
    const f = r.render(log, entry, seen);
    return { log: log.url, index: i, seen, lite: f.lite, full: f.full, domains: f.domains, parts: f.parts };
  });
}

const STREAMS = ['lite', 'full', 'domains'] as const;

/** Every frame of one stream from `from` on, following `next`; and the seqs left out. */
async function readAll(w: LocalReplayWindow, stream: (typeof STREAMS)[number], maxBytes = 32 * 1024): Promise<{ frames: string[]; skipped: number }> {
  const frames: string[] = [];
  let skipped = 0;
  let seq = w.firstSeq;
  while (seq < w.nextSeq) {
    const r = await w.read(stream, seq, maxBytes);
    for (const p of r.batch.payloads) frames.push(p.toString('utf8'));
    skipped += r.next - seq - r.batch.ends.length;
    seq = r.next;
  }
  return { frames, skipped };
}

function files(dir: string): string[] {
  return readdirSync(join(dir, REPLAY_DIR)).filter((f) => f.endsWith('.seg')).sort().map((f) => join(dir, REPLAY_DIR, f));
}

/** The records of a segment file: offset and bytes. */
function records(path: string): { offset: number; bytes: Buffer }[] {
  const buf = readFileSync(path);
  const out: { offset: number; bytes: Buffer }[] = [];
  for (let at = 0; at < buf.length;) {
    const length = 8 + (buf.readUInt32LE(at) & 0x7fffffff);
    out.push({ offset: at, bytes: buf.subarray(at, at + length) });
    at += length;
  }
  return out;
}

test('unique leaves: chain certificates stored once per segment, under 2 KB per entry, every stream byte-identical from memory, disk and after a restart', async (t) => {
  const dir = tempDir(t);
  const all = uniqueEntries(900);
  const open = (cacheBytes: number) => LocalReplayWindow.open({ stateDir: dir, windowSeconds: 1e9, maxBytes: 1e9, segmentBytes: 300_000, cacheBytes, now: () => NOW });
  const w = open(64 * 1024 * 1024);
  for (let i = 0; i < all.length; i += 20) w.append(all.slice(i, i + 20));
  const fullBytes = all.reduce((n, e) => n + Buffer.byteLength(e.full), 0);
  // (Small segments here, each defining its chain certificates again: bench:window-size measures the
  // production figure with 64 MiB segments.)
  assert.ok(w.bytes / all.length < 2_000, `${Math.round(w.bytes / all.length)} bytes per entry on disk (full frames: ${Math.round(fullBytes / all.length)})`);
  for (const s of STREAMS) assert.ok((await readAll(w, s)).frames.every((f, i) => f === all[i][s]), `${s} from memory`);
  await w.close();
  const segs = files(dir);
  assert.ok(segs.length >= 3, `${segs.length} segments`);
  // Each segment defines each certificate at most once, and every record is compact.
  for (const seg of segs) {
    const ids = new Set<number>();
    for (const r of records(seg)) {
      assert.ok(isCompact(r.bytes));
      for (const d of compactDefs(r.bytes) ?? []) {
        assert.ok(!ids.has(d.id), `id ${d.id} defined twice in ${seg}`);
        ids.add(d.id);
      }
      for (const id of compactChain(r.bytes) ?? []) assert.ok(ids.has(id), `id ${id} named before it is defined`);
    }
  }
  // After a restart, from disk (no cache): certificates are read back from their defining records.
  const w2 = open(0);
  for (const s of STREAMS) {
    const { frames, skipped } = await readAll(w2, s, 4_000 + s.length * 3_000);
    assert.equal(skipped, 0);
    assert.equal(frames.length, all.length);
    assert.ok(frames.every((f, i) => f === all[i][s]), `${s} from disk after a restart`);
  }
  // Appending after the restart goes on in the newest segment (defining its certificates again).
  const more = uniqueEntries(950).slice(900);
  w2.append(more);
  assert.ok((await readAll(w2, 'full')).frames.every((f, i) => f === [...all, ...more][i].full), 'full after appending again');
  await w2.close();
});

test('a damaged record that defines a chain certificate: the records naming it are skipped and counted, the others replay intact', async (t) => {
  const dir = tempDir(t);
  const all = uniqueEntries(120);
  // Several segments: the damage is in a closed one, whose records are CRC-checked when read (not at open).
  const w = LocalReplayWindow.open({ stateDir: dir, windowSeconds: 1e9, maxBytes: 1e9, segmentBytes: 60_000, cacheBytes: 0, now: () => NOW });
  for (let i = 0; i < all.length; i += 20) w.append(all.slice(i, i + 20));
  await w.close();
  const segs = files(dir);
  assert.ok(segs.length >= 2);
  const seg = segs[0];
  const recs = records(seg);
  // A record after the first that defines a certificate (so it is not the only one naming it).
  const k = recs.findIndex((r, i) => i > 0 && (compactDefs(r.bytes) ?? []).length > 0);
  assert.ok(k > 0);
  const ids = new Set((compactDefs(recs[k].bytes) ?? []).map((d) => d.id));
  const naming = all.map((_, i) => i < recs.length && i !== k && (compactChain(recs[i].bytes) ?? []).some((id) => ids.has(id)));
  assert.ok(naming.some(Boolean), 'later records name its certificates');
  // Flip a byte inside its first definition (a bad sector).
  const fd = openSync(seg, 'r+');
  const b = Buffer.alloc(1);
  const at = recs[k].offset + compactDefs(recs[k].bytes)![0].start + 100;
  readSync(fd, b, 0, 1, at);
  writeSync(fd, Buffer.from([b[0] ^ 0x5a]), 0, 1, at);
  closeSync(fd);
  const registry = new Registry();
  const w2 = LocalReplayWindow.open({ stateDir: dir, windowSeconds: 1e9, maxBytes: 1e9, segmentBytes: 60_000, cacheBytes: 0, now: () => NOW, registry });
  const expected = all.filter((_, i) => i !== k && !naming[i]).map((e) => e.full);
  const { frames, skipped } = await readAll(w2, 'full');
  assert.deepEqual(frames.map((f) => (JSON.parse(f) as { data: { cert_index: number } }).data.cert_index), all.filter((_, i) => i !== k && !naming[i]).map((e) => e.index));
  assert.ok(frames.every((f, i) => f === expected[i]), 'the frames sent are exactly the rendered ones');
  assert.equal(skipped, 1 + naming.filter(Boolean).length);
  assert.equal(w2.corruptRecords, skipped, 'each skipped record counted once');
  await readAll(w2, 'full');
  assert.equal(w2.corruptRecords, skipped, 'not counted again when read again');
  await w2.close();
});

test('a segment of plain records (the previous release) is read as before, and appending goes on in compact records', async (t) => {
  const dir = tempDir(t);
  const all = uniqueEntries(60);
  mkdirSync(join(dir, REPLAY_DIR), { recursive: true });
  writeFileSync(join(dir, REPLAY_DIR, segmentName(0)), Buffer.concat(all.slice(0, 40).map((e) => encodeRecord(e))));
  const w = LocalReplayWindow.open({ stateDir: dir, windowSeconds: 1e9, maxBytes: 1e9, cacheBytes: 0, now: () => NOW });
  assert.equal(w.nextSeq, 40);
  w.append(all.slice(40));
  for (const s of STREAMS) assert.ok((await readAll(w, s)).frames.every((f, i) => f === all[i][s]), s);
  const recs = records(files(dir)[0]);
  assert.deepEqual(recs.map((r) => isCompact(r.bytes)), all.map((_, i) => i >= 40));
  await w.close();
});

/** A format 2 compact record as the first release wrote it (format 1: no stored fingerprint, computed from the DER on read). */
function asFormat1(record: Buffer): Buffer {
  const layout = compactLayout(record)!;
  assert.ok(layout.storedFingerprint > 0, 'a format 2 record');
  const formatAt = 8 + 16 + 2 + record.readUInt16LE(8 + 16);
  const body = Buffer.concat([record.subarray(8, layout.storedFingerprint), record.subarray(layout.dataAt)]);
  body[formatAt - 8] = 1;
  const head = Buffer.alloc(8);
  head.writeUInt32LE((body.length | 0x80000000) >>> 0, 0);
  head.writeUInt32LE(crc32(body), 4);
  return Buffer.concat([head, body]);
}

test('a window of format 1 compact records (the first release) is read byte-identical, and appending goes on in format 2', async (t) => {
  const dir = tempDir(t);
  const all = uniqueEntries(140);
  const open = () => LocalReplayWindow.open({ stateDir: dir, windowSeconds: 1e9, maxBytes: 1e9, segmentBytes: 60_000, cacheBytes: 0, now: () => NOW });
  const w = open();
  for (let i = 0; i < 120; i += 20) w.append(all.slice(i, i + 20));
  await w.close();
  // Every segment rewritten as the first release wrote it; its index (of the other sizes) removed.
  for (const seg of files(dir)) writeFileSync(seg, Buffer.concat(records(seg).map((r) => asFormat1(r.bytes))));
  for (const f of readdirSync(join(dir, REPLAY_DIR)).filter((n) => n.endsWith('.idx'))) rmSync(join(dir, REPLAY_DIR, f));
  const registry = new Registry();
  const w2 = LocalReplayWindow.open({ stateDir: dir, windowSeconds: 1e9, maxBytes: 1e9, segmentBytes: 60_000, cacheBytes: 0, now: () => NOW, registry });
  assert.equal(w2.nextSeq, 120);
  w2.append(all.slice(120));
  for (const s of STREAMS) {
    const { frames, skipped } = await readAll(w2, s);
    assert.equal(skipped, 0, s);
    assert.ok(frames.length === all.length && frames.every((f, i) => f === all[i][s]), `${s} byte-identical`);
  }
  assert.equal(w2.corruptRecords, 0);
  const formats = files(dir).flatMap((seg) => records(seg).map((r) => compactLayout(r.bytes)!.storedFingerprint > 0 ? 2 : 1));
  assert.deepEqual(formats, all.map((_, i) => (i < 120 ? 1 : 2)));
  await w2.close();
});

test('an entry whose parts do not describe its lite frame is stored plainly, and replays byte-identically', async (t) => {
  const dir = tempDir(t);
  const all = uniqueEntries(6);
  // Entry 3 carries entry 2's parts (other offsets); entry 4 none.
  const entries = all.map((e, i) => (i === 3 ? { ...e, parts: all[2].parts } : i === 4 ? { ...e, parts: undefined } : e));
  const w = LocalReplayWindow.open({ stateDir: dir, windowSeconds: 1e9, maxBytes: 1e9, cacheBytes: 0, now: () => NOW });
  w.append(entries);
  for (const s of STREAMS) assert.ok((await readAll(w, s)).frames.every((f, i) => f === all[i][s]), s);
  await w.close();
  assert.deepEqual(records(files(dir)[0]).map((r) => isCompact(r.bytes)), [true, true, true, false, false, true]);
});
