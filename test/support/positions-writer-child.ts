/**
 * Child process of test/stream/positions-journal.test.ts: saves durable positions in the state directory
 * at argv[2] without pause — round r sets 50 NAMEs to r, the round's first NAME on every stream — and
 * prints `saved <r>` once round r's save returned (fsynced), until it is killed.
 */
import { PositionStore } from '../../src/stream/durable-positions.js';
import { STREAM_NAMES } from '../../src/stream/stream-paths.js';

const store = await PositionStore.open({ stateDir: process.argv[2]!, flushMs: 3_600_000 });
for (let round = 1; ; round++) {
  for (let i = 0; i < 50; i++) store.set(`name-${i}`, 'full', round);
  for (const stream of STREAM_NAMES) store.set(`name-${round % 50}`, stream, round);
  await store.flush();
  process.stdout.write(`saved ${round}\n`);
}
