/**
 * Replay cost of a filtered durable client against an unfiltered one, per frame examined (issue 24 §2),
 * in process (no server, no socket): the window's own reads, as DurableFanout's pump does them, and for
 * the filtered run the names found in each frame, the match and the copy of the kept frames
 * (stream/filter-replay.ts). Socket writes are not counted: an unfiltered replay writes every frame, a
 * filtered one only the kept ones, so the in-process figure is the filtered replay's worst case.
 *
 *   node --import tsx bench/replay-read-probe.ts DIR 200000     # fills DIR once with rendered real entries
 *   node --import tsx bench/replay-filter.ts DIR [RULES] [lite|full|domains]
 */
import { LocalReplayWindow } from '../src/replay/local-replay-window.js';
import type { ReplayBatch } from '../src/replay/replay-window.js';
import { matchingFrames } from '../src/stream/filter-replay.js';
import { parseFilterRules } from '../src/stream/filter-rules.js';
import { FilterSet } from '../src/stream/filter-sets.js';

const [dir, rulesText = [...Array.from({ length: 99 }, (_, j) => `brand-${j}.example`), 'google.com'].join(','), stream = 'lite'] = process.argv.slice(2);
const rules = parseFilterRules(rulesText);
if ('error' in rules) throw new Error(rules.error);
const set = new FilterSet(rules.key, rules.bytes, rules.rules);
const window = LocalReplayWindow.open({ stateDir: dir, windowSeconds: 1e9, maxBytes: 64 * 2 ** 30, cacheBytes: 0 });
if (window.nextSeq === window.firstSeq) throw new Error(`${dir} holds no window: fill it with bench/replay-read-probe.ts first`);
const s = stream as 'lite' | 'full' | 'domains';

/** Reads the whole window as a pump does (1 MiB reads); with `filtered`, keeps the matching frames. */
async function replay(filtered: boolean): Promise<{ examined: number; kept: number; ms: number; cpuMs: number }> {
  const cpu0 = process.cpuUsage();
  const t = performance.now();
  let seq = window.firstSeq;
  let examined = 0;
  let kept = 0;
  while (seq < window.nextSeq) {
    const r = window.read(s, seq, 1024 * 1024);
    const read: ReplayBatch = r instanceof Promise ? await r : r;
    examined += read.batch.ends.length;
    kept += filtered ? matchingFrames(s, read, set).ends.length : read.batch.ends.length;
    seq = read.next;
  }
  const cpu = process.cpuUsage(cpu0);
  return { examined, kept, ms: performance.now() - t, cpuMs: (cpu.user + cpu.system) / 1000 };
}

for (let round = 0; round < 3; round++) {
  const plain = await replay(false);
  const filtered = await replay(true);
  const per = (r: { examined: number; cpuMs: number }) => (1000 * r.cpuMs) / r.examined;
  console.log(
    `round ${round + 1}: unfiltered ${plain.examined} frames, ${per(plain).toFixed(2)} µs CPU/frame; filtered ${filtered.examined} examined, ${filtered.kept} kept, ` +
      `${per(filtered).toFixed(2)} µs CPU/frame examined = ${(per(filtered) / per(plain)).toFixed(2)}× (wall ${(plain.ms / 1000).toFixed(1)} s / ${(filtered.ms / 1000).toFixed(1)} s)`,
  );
}
await window.close();
