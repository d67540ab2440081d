/**
 * Small probe of the window's own read rate (no server, no socket), for profiling the read path:
 *   node --import tsx bench/replay-read-probe.ts DIR ENTRIES [lite|full|domains] [chunkBytes]
 * Fills DIR once (if empty) with ENTRIES rendered entries, then reads it all back from disk three times:
 * frames per wall second and per CPU-second of this process (CPU time depends less on the machine's load).
 */
import { existsSync } from 'node:fs';
import { LocalReplayWindow } from '../src/replay/local-replay-window.js';
import { Renderer } from '../src/render/renderer.js';
import type { CtEntry, LogDescriptor } from '../src/ct/types.js';
import { RFC6962_LOG, rfc6962Entries, staticEntries } from '../test/x509/corpus.js';
import { join } from 'node:path';

const [dir, n, stream = 'lite', chunk = String(1024 * 1024)] = process.argv.slice(2);
const ENTRIES = Number(n);
if (!existsSync(join(dir, 'replay'))) {
  const renderer = new Renderer();
  const benchLog: LogDescriptor = { ...RFC6962_LOG, url: 'https://replay-bench.example/', name: 'replay bench' };
  const corpus: CtEntry[] = [...rfc6962Entries(), ...staticEntries()];
  const w = LocalReplayWindow.open({ stateDir: dir, windowSeconds: 3600, maxBytes: 64 * 2 ** 30 });
  const start = Date.now() / 1000 - 600;
  for (let i = 0; i < ENTRIES; i += 500) {
    const entries = [];
    for (let k = i; k < Math.min(ENTRIES, i + 500); k++) {
      const f = renderer.render(benchLog, { ...corpus[k % corpus.length], index: k }, start + k / 2000);
      entries.push({ log: benchLog.url, index: k, seen: start + k / 2000, lite: f.lite, full: f.full, domains: f.domains, parts: f.parts });
    }
    w.append(entries);
  }
  await w.close();
}
const w = LocalReplayWindow.open({ stateDir: dir, windowSeconds: 1e9, maxBytes: 64 * 2 ** 30, cacheBytes: 0 });
for (let round = 0; round < 3; round++) {
  const t = performance.now();
  const c0 = process.cpuUsage();
  let seq = w.firstSeq;
  let frames = 0;
  let bytes = 0;
  while (seq < w.nextSeq) {
    const r = await w.read(stream as 'lite', seq, Number(chunk));
    frames += r.batch.ends.length;
    bytes += r.batch.bytes.length;
    seq = r.first + r.batch.ends.length;
  }
  const s = (performance.now() - t) / 1000;
  const c = process.cpuUsage(c0);
  const cpu = (c.user + c.system) / 1e6;
  console.log(`${frames} frames, ${(bytes / 2 ** 20).toFixed(0)} MiB framed, ${(w.bytes / 2 ** 20).toFixed(0)} MiB window: ${Math.round(frames / s)} frames/s, ` +
    `${Math.round(frames / cpu)} frames per CPU-second (${(cpu * 1e6 / frames).toFixed(1)} µs CPU per frame)`);
}
await w.close();
