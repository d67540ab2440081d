// The filtered scenarios of bench:fanout (issue 24 §4) at a small size, so that CI runs them: the real
// server, the fake CT log, clients with their own and with shared `match=` rule sets. Only what does not
// depend on the machine's speed is judged here (the CPU and latency goals are the benchmark's): the run
// completes, every filtered row received frames, fewer bytes than the unfiltered clients, none dropped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const ROOT = join(import.meta.dirname, '../..');

test('bench:fanout --filtered at a small size: both filtered scenarios run beside the unfiltered one', { timeout: 240_000 }, async () => {
  const args = ['--import', 'tsx', join(ROOT, 'bench/fanout.ts'), '--scenarios', '10x100', '--filtered', '20', '--seconds', '2', '--warmup', '1', '--logs', '2', '--inspect', '5'];
  const { stdout } = await promisify(execFile)(process.execPath, args, { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
  const kB = (line: string) => Number(/(\d+) kB sent/.exec(line)![1]);
  const frames = (line: string) => Number(/(\d+) frames/.exec(line)![1]);
  const unfiltered = stdout.split('\n').find((l) => l.startsWith('unfiltered, 10 clients × 100/s'));
  const filtered = stdout.split('\n').filter((l) => l.startsWith('filtered, '));
  assert.ok(unfiltered, stdout);
  assert.equal(filtered.length, 2, stdout);
  for (const line of filtered) {
    assert.match(line, /20 clients × 100\/s: \d+ entries examined, server CPU [\d.]+ µs per entry/);
    assert.ok(frames(line) > 0, `no frame received: ${line}`);
    assert.ok(kB(line) < kB(unfiltered), `${line}\nvs ${unfiltered}`);
  }
  const rows = stdout.split('\n').filter((l) => l.startsWith('| certstream-server (filtered'));
  assert.equal(rows.length, 2);
  for (const row of rows) assert.equal(row.split('|')[8].trim(), '0', `drops: ${row}`);
});
