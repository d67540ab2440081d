/**
 * Child process of test/replay/segment-index.test.ts: appends entries to the replay window in the state
 * directory at argv[2] without pause, in small segments (a roll, and so an index write, every few
 * appends), and prints `appended <n>` once the entries [0, n) are appended (append returned), until it is
 * killed.
 */
import { LocalReplayWindow } from '../../src/replay/local-replay-window.js';

const w = LocalReplayWindow.open({ stateDir: process.argv[2]!, windowSeconds: 1e9, maxBytes: 1e9, cacheBytes: 0, segmentBytes: 8_000 });
for (let n = 0; ; n += 5) {
  w.append(
    Array.from({ length: 5 }, (_, k) => {
      const i = n + k;
      return { log: 'https://log.example/', index: i, seen: 1_780_000_000 + i, lite: `{"i":${i}}`, full: `{"i":${i},"pad":"${'p'.repeat(500)}"}`, domains: `["d${i}.example"]` };
    }),
  );
  process.stdout.write(`appended ${n + 5}\n`);
}
