/**
 * Child process of test/replay/segment-index.test.ts: appends entries to the replay window in the state
 * directory at argv[2] without pause, in small segments (a roll, and so an index write, every few
 * appends), and prints `appended <n>` once the entries [0, n) are appended (append returned), until it is
 * killed. With argv[3] = k, the k-th index write stops half-way (its temp file cut to half, before the
 * rename), prints `index-write <temp file>` and waits there to be killed: a kill -9 during an index write.
 */
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { LocalReplayWindow } from '../../src/replay/local-replay-window.js';

const stopAt = Number(process.argv[3] ?? 0);
let indexWrites = 0;
const rename = fs.renameSync;
fs.renameSync = (from: fs.PathLike, to: fs.PathLike) => {
  if (String(from).endsWith('.idx.tmp') && ++indexWrites === stopAt) {
    fs.truncateSync(from, fs.statSync(from).size >> 1);
    process.stdout.write(`index-write ${String(from)}\n`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
  }
  rename(from, to);
};
syncBuiltinESMExports();

const w = LocalReplayWindow.open({ stateDir: process.argv[2]!, windowSeconds: 1e9, maxBytes: 1e9, cacheBytes: 0, segmentBytes: 8_000 });
for (let n = w.nextSeq; ; n += 5) {
  w.append(
    Array.from({ length: 5 }, (_, k) => {
      const i = n + k;
      return { log: 'https://log.example/', index: i, seen: 1_780_000_000 + i, lite: `{"i":${i}}`, full: `{"i":${i},"pad":"${'p'.repeat(500)}"}`, domains: `["d${i}.example"]` };
    }),
  );
  process.stdout.write(`appended ${n + 5}\n`);
}
