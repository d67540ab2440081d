// The local replay window on a real temporary state directory: entries stored once and replayed
// byte-identically on all three streams (real rendered CT entries), from memory and from disk; per-log
// dedupe (a refetch after kill -9), torn tail cut on reopen, trimming by bytes and age, `since` lookup.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readdirSync, readlinkSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalReplayWindow, REPLAY_DIR } from '../../src/replay/local-replay-window.js';
import type { ReplayBatch, WindowEntry } from '../../src/replay/replay-window.js';
import { Renderer } from '../../src/render/renderer.js';
import { frameBatch } from '../../src/stream/ws-frame.js';
import { RFC6962_LOG, STATIC_LOG, rfc6962Entries, staticEntries } from '../x509/corpus.js';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'replay-window-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Real entries rendered as the sink renders them (indexes increasing per log), `seen` one second apart per 10. */
function realEntries(): WindowEntry[] {
  const r = new Renderer();
  const out: WindowEntry[] = [];
  const rfc = rfc6962Entries().filter((e, i, all) => i === 0 || e.index > all[i - 1].index);
  const all = [...rfc.map((e) => [RFC6962_LOG, e] as const), ...staticEntries().map((e) => [STATIC_LOG, e] as const)];
  all.forEach(([log, e], i) => {
    const seen = 1_700_000_000 + Math.floor(i / 10);
    const f = r.render(log, e, seen);
    out.push({ log: log.url, index: e.index, seen, lite: f.lite, full: f.full, domains: f.domains, parts: f.parts });
  });
  return out;
}

async function readAll(w: LocalReplayWindow, stream: 'lite' | 'full' | 'domains', from: number, maxBytes = 64 * 1024): Promise<string[]> {
  const out: string[] = [];
  let seq = Math.max(from, w.firstSeq);
  while (seq < w.nextSeq) {
    const { first, batch }: ReplayBatch = await w.read(stream, seq, maxBytes);
    assert.equal(first, seq, 'reads continue where the previous one ended');
    assert.ok(batch.ends.length > 0, 'a read below nextSeq returns at least one frame');
    for (const p of batch.payloads) out.push(p.toString('utf8'));
    seq += batch.ends.length;
  }
  return out;
}

test('every stream replays byte-identical frames, from memory and from disk', async (t) => {
  const dir = tempDir(t);
  const entries = realEntries();
  // A tiny cache and segments force most reads to disk and across segment files.
  const w = LocalReplayWindow.open({ stateDir: dir, windowSeconds: 1e9, maxBytes: 1e9, cacheBytes: 20_000, segmentBytes: 100_000, now: () => 1_700_000_000_000 });
  for (let i = 0; i < entries.length; i += 7) w.append(entries.slice(i, i + 7));
  assert.equal(w.nextSeq, entries.length);
  assert.ok(readdirSync(join(dir, REPLAY_DIR)).filter((f) => f.endsWith('.seg')).length > 3, 'several segments');
  for (const stream of ['lite', 'full', 'domains'] as const) {
    assert.deepEqual(await readAll(w, stream, 0), entries.map((e) => e[stream]), stream);
  }
  // The framing is the hub's framing, byte for byte.
  const { batch } = await w.read('lite', 5, 1);
  assert.deepEqual(batch.bytes, frameBatch([entries[5].lite]).bytes);
  // Stored once: the window is smaller than full + lite + domains.
  const threeCopies = entries.reduce((n, e) => n + Buffer.byteLength(e.full) + Buffer.byteLength(e.lite) + Buffer.byteLength(e.domains), 0);
  assert.ok(w.bytes < threeCopies * 0.85, `${w.bytes} bytes on disk for ${threeCopies} bytes of frames`);
  await w.close();
});

test('reopening: the index is rebuilt, a refetch is not appended twice, a torn tail is cut', async (t) => {
  const dir = tempDir(t);
  const entries = realEntries().slice(0, 60);
  const w = LocalReplayWindow.open({ stateDir: dir, windowSeconds: 1e9, maxBytes: 1e9, now: () => 1_700_000_000_000 });
  w.append(entries.slice(0, 40));
  await w.close();
  // kill -9 in the middle of a write: half a record, then garbage, at the end of the segment.
  const seg = join(dir, REPLAY_DIR, readdirSync(join(dir, REPLAY_DIR)).filter((f) => f.endsWith('.seg')).sort()[0]);
  const whole = statSync(seg).size;
  appendFileSync(seg, Buffer.from([200, 1, 0, 0, 7, 7, 7, 7, 1, 2, 3]));
  const w2 = LocalReplayWindow.open({ stateDir: dir, windowSeconds: 1e9, maxBytes: 1e9, now: () => 1_700_000_000_000 });
  assert.equal(statSync(seg).size, whole, 'cut at the last whole record');
  assert.equal(w2.nextSeq, 40);
  // The ingest fetches again from a cursor saved 15 entries back: only the new ones are appended.
  const { seq, appended } = w2.append(entries.slice(25, 60));
  assert.equal(seq, 40);
  assert.deepEqual(appended.map((e) => e.index), entries.slice(40, 60).map((e) => e.index));
  assert.deepEqual(await readAll(w2, 'full', 0), entries.map((e) => e.full));
  await w2.close();

  // A record torn inside its body (length says more than is there) is cut too.
  truncateSync(seg, whole - 10);
  const w3 = LocalReplayWindow.open({ stateDir: dir, windowSeconds: 1e9, maxBytes: 1e9, now: () => 1_700_000_000_000 });
  assert.equal(w3.firstSeq, 0);
  // The cut fell inside record 39 (the file was 40 records long then): it and the 20 after it go.
  assert.equal(w3.nextSeq, 39);
  const lite = await readAll(w3, 'lite', 0);
  assert.deepEqual(lite.slice(0, 39), entries.slice(0, 39).map((e) => e.lite), 'nothing before the torn record is lost');
  await w3.close();
});

test('trimming by bytes and by age; since finds the first frame at or after a time', async (t) => {
  const dir = tempDir(t);
  const entries = realEntries();
  let now = 1_700_000_000_000;
  // (Entries are about 1 KB each on disk: their chains are stored once per segment, the rest deflated.)
  const w = LocalReplayWindow.open({ stateDir: dir, windowSeconds: 30, maxBytes: 120_000, segmentBytes: 20_000, now: () => now });
  for (let i = 0; i < entries.length; i += 10) w.append(entries.slice(i, i + 10));
  assert.ok(w.bytes <= 120_000 + 20_000 + 20_000, `bytes ${w.bytes} bounded by the cap plus one segment`);
  assert.ok(w.firstSeq > 0, 'the oldest segments went');
  assert.deepEqual(await readAll(w, 'domains', 0), entries.slice(w.firstSeq).map((e) => e.domains), 'a read below the window starts at its start');
  const since = entries[w.nextSeq - 15].seen;
  assert.ok(since > entries[w.firstSeq].seen, 'the test asks for a time inside the window');
  const seqOf = w.seqAtTime(since);
  assert.equal(entries[seqOf].seen, since);
  assert.ok(entries[seqOf - 1].seen < since);
  assert.equal(w.seqAtTime(0), w.firstSeq, 'a time before the window: its start');
  assert.equal(w.seqAtTime(2e9), w.nextSeq);
  // Everything older than 30 s: the window empties but keeps counting.
  const next = w.nextSeq;
  now += 10_000_000;
  w.trim();
  assert.equal(w.firstSeq, next);
  assert.equal(w.nextSeq, next);
  assert.equal(w.oldestSeen, undefined);
  await w.close();
  const w2 = LocalReplayWindow.open({ stateDir: dir, windowSeconds: 30, maxBytes: 200_000, now: () => now });
  assert.equal(w2.nextSeq, next, 'seqs continue after a restart with an empty window');
  await w2.close();
});

test('a lite frame that is not a cut of its full frame, non-ASCII text, and concurrent disk reads', async (t) => {
  const dir = tempDir(t);
  const entries: WindowEntry[] = [];
  for (let i = 0; i < 200; i++) {
    const full = JSON.stringify({ data: { cert_index: i, subject: `Zürich ${'é'.repeat(i)}`, chain: ['x'.repeat(3000 + i)] } });
    // Even indexes: lite is a cut of full; odd: lite has bytes full does not (stored on its own).
    const lite = i % 2 === 0 ? JSON.stringify({ data: { cert_index: i, subject: `Zürich ${'é'.repeat(i)}` } }) : `{"Ω":${i}}`;
    entries.push({ log: 'https://ünïcode.example/', index: i, seen: 1_700_000_000 + i, lite, full, domains: `["ж${i}.example"]` });
  }
  const w = LocalReplayWindow.open({ stateDir: dir, windowSeconds: 1e9, maxBytes: 1e9, cacheBytes: 0, segmentBytes: 1_000_000, now: () => 1_700_000_000_000 });
  w.append(entries.slice(0, 150));
  w.append(entries.slice(150));
  // Several readers at once: each disk read has its own buffer while in flight (reused only after).
  const streams = ['lite', 'full', 'domains', 'lite', 'full', 'domains'] as const;
  const all = await Promise.all(streams.map((s, k) => readAll(w, s, 0, 2_000 + k * 5_000)));
  streams.forEach((s, k) => assert.deepEqual(all[k], entries.map((e) => e[s]), `${s} (reader ${k})`));
  await w.close();
});

test('many segments read by many readers at once: read handles stay bounded, evicted ones are reopened', async (t) => {
  const dir = tempDir(t);
  const entries = realEntries();
  // About 40 segments and 40 concurrent readers, each starting in a different one: far more than the
  // handles kept, so handles are closed while other readers still wait on them.
  const w = LocalReplayWindow.open({ stateDir: dir, windowSeconds: 1e9, maxBytes: 1e9, cacheBytes: 0, segmentBytes: 1_000_000 / 160, now: () => 1_700_000_000_000 });
  for (let i = 0; i < entries.length; i += 3) w.append(entries.slice(i, i + 3));
  const segments = readdirSync(join(dir, REPLAY_DIR)).filter((f) => f.endsWith('.seg')).length;
  assert.ok(segments > 20, `${segments} segments`);
  const starts = Array.from({ length: 40 }, (_, k) => Math.floor((k * entries.length) / 40));
  const all = await Promise.all(starts.map((from) => readAll(w, 'full', from, 4_000)));
  starts.forEach((from, k) => assert.deepEqual(all[k], entries.slice(from).map((e) => e.full), `reader from ${from}`));
  // Closes of evicted handles settle asynchronously: wait for them (with a deadline).
  const open = () => readdirSync('/proc/self/fd').filter((fd) => { try { return readlinkSync(`/proc/self/fd/${fd}`).startsWith(join(dir, REPLAY_DIR)); } catch { return false; } }).length;
  const deadline = Date.now() + 5000;
  while (open() > 17 && Date.now() < deadline) await new Promise((r) => setImmediate(r));
  assert.ok(open() <= 17, `${open()} segment files open (at most 16 read handles and the one written)`);
  await w.close();
  while (open() > 0 && Date.now() < deadline) await new Promise((r) => setImmediate(r));
  assert.equal(open(), 0, 'closing the window closes its handles');
});
