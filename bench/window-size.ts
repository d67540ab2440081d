// npm run bench:window-size — what the local replay window stores per entry (issue 20 §1), and how fast
// it opens (§2), on real CT entries made unique (test/replay/unique-leaves.ts: every leaf distinct, the
// real chains repeating as in real logs).
//
//   npm run bench:window-size -- [--entries 200000] [--max-bytes 2147483648]
//
// Appends --entries entries rendered by the Renderer (in batches of 20, as the hub's flushes do at
// 2,000 entries/s) to a fresh window with the production segment size for --max-bytes, then reports
// bytes per entry, the minutes the window holds at 2,000 entries/s in --max-bytes, the append CPU per
// entry, and the time to open the window again: as a restart does (closed segments from their indexes,
// only the newest scanned) and with the indexes removed (every segment scanned, as before them).
// Prints a table on stderr and ONE JSON line on stdout; `--check` exits 1 when over 1,190 bytes/entry.
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LocalReplayWindow, REPLAY_DIR } from '../src/replay/local-replay-window.js';
import type { WindowEntry } from '../src/replay/replay-window.js';
import { Renderer } from '../src/render/renderer.js';
import { uniqueLeafSource } from '../test/replay/unique-leaves.js';

const { values: opts } = parseArgs({
  options: {
    entries: { type: 'string', default: '200000' },
    'max-bytes': { type: 'string', default: String(2 * 2 ** 30) },
    check: { type: 'boolean', default: false },
  },
});
const ENTRIES = Number(opts.entries);
const MAX_BYTES = Number(opts['max-bytes']);
const GOAL_BYTES_PER_ENTRY = 1190;
const RATE = 2000;
const BATCH = 20;

const dir = mkdtempSync(join(tmpdir(), 'bench-window-size-'));
try {
  const source = uniqueLeafSource();
  const renderer = new Renderer();
  const window = LocalReplayWindow.open({ stateDir: dir, windowSeconds: 1e9, maxBytes: MAX_BYTES });
  const start = 1_780_000_000;
  let frameBytes = 0;
  let appendCpuUs = 0;
  for (let i = 0; i < ENTRIES; i += BATCH) {
    const batch: WindowEntry[] = [];
    for (let n = i; n < Math.min(ENTRIES, i + BATCH); n++) {
      const { log, entry } = source.entry(n);
      const seen = start + n / RATE;
      const f = renderer.render(log, entry, seen);
      frameBytes += f.full.length;
      batch.push({ log: log.url, index: n, seen, lite: f.lite, full: f.full, domains: f.domains, parts: f.parts });
    }
    const c0 = process.cpuUsage();
    window.append(batch);
    const c = process.cpuUsage(c0);
    appendCpuUs += c.user + c.system;
  }
  const bytes = window.bytes;
  await window.close();
  // Open as a restart does: closed segments from their indexes, the newest one scanned.
  const { ms: openMs, held } = await timedOpen();
  // The same window with its indexes removed: every segment scanned (as before the indexes; a start
  // after an upgrade), which writes them again.
  const replayDir = join(dir, REPLAY_DIR);
  const indexes = readdirSync(replayDir).filter((f) => f.endsWith('.idx'));
  for (const f of indexes) rmSync(join(replayDir, f));
  const { ms: scanMs } = await timedOpen();
  const segFiles = readdirSync(replayDir).filter((f) => f.endsWith('.seg')).sort();
  const segments = segFiles.length;
  // A 2 GiB window: its newest segment (at most one segment's size) scanned at the scan's rate, the rest
  // from indexes at the rate measured here (the open's time less its newest segment's scan).
  const newestBytes = statSync(join(replayDir, segFiles[segments - 1])).size;
  const scanMsPerByte = scanMs / bytes;
  const indexedMsPerByte = Math.max(0, openMs - scanMsPerByte * newestBytes) / Math.max(1, bytes - newestBytes);
  const segmentBytes = Math.min(64 * 2 ** 20, Math.floor(MAX_BYTES / 8));
  const estimate2GiB = scanMsPerByte * segmentBytes + indexedMsPerByte * (2 * 2 ** 30 - segmentBytes);
  const perEntry = bytes / ENTRIES;
  const minutes = MAX_BYTES / perEntry / RATE / 60;
  const result = {
    entries: ENTRIES,
    bytes,
    bytes_per_entry: Math.round(perEntry),
    full_frame_bytes_per_entry: Math.round(frameBytes / ENTRIES),
    minutes_in_max_bytes_at_2000_per_s: Number(minutes.toFixed(1)),
    append_cpu_us_per_entry: Number((appendCpuUs / ENTRIES).toFixed(1)),
    segments,
    indexes: indexes.length,
    open_ms: Math.round(openMs),
    open_ms_per_gib: Math.round(openMs / (bytes / 2 ** 30)),
    open_scan_ms: Math.round(scanMs),
    open_scan_ms_per_gib: Math.round(scanMs / (bytes / 2 ** 30)),
    newest_segment_bytes: newestBytes,
    open_ms_estimate_2gib: Math.round(estimate2GiB),
    held,
    loadavg: loadavg().map((l) => Number(l.toFixed(2))),
  };
  process.stderr.write(
    `window size: ${ENTRIES} unique-leaf entries → ${bytes} bytes = ${result.bytes_per_entry} bytes/entry ` +
    `(full frame ${result.full_frame_bytes_per_entry}); ${MAX_BYTES} bytes hold ${result.minutes_in_max_bytes_at_2000_per_s} min at ${RATE}/s; ` +
    `append ${result.append_cpu_us_per_entry} µs CPU/entry; reopen ${result.open_ms} ms from ${indexes.length} segment indexes ` +
    `(${result.open_ms_per_gib} ms/GiB), ${result.open_scan_ms} ms scanning all ${segments} segments (${result.open_scan_ms_per_gib} ms/GiB); ` +
    `a 2 GiB window would open in about ${result.open_ms_estimate_2gib} ms (a full newest segment scanned, the rest from indexes); load ${result.loadavg.join(' ')}\n`,
  );
  process.stdout.write(JSON.stringify(result) + '\n');
  if (opts.check && perEntry > GOAL_BYTES_PER_ENTRY) process.exitCode = 1;

  async function timedOpen(): Promise<{ ms: number; held: number }> {
    const t0 = performance.now();
    const w = LocalReplayWindow.open({ stateDir: dir, windowSeconds: 1e9, maxBytes: MAX_BYTES });
    const ms = performance.now() - t0;
    const held = w.nextSeq - w.firstSeq;
    await w.close();
    return { ms, held };
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
