// npm run bench:verify — what verifying a log costs (issue 21): hashing every streamed entry into the
// log's compact range, and checking signed heads.
//
// - leaves: N real-shaped entries hashed and appended to a CompactRange, in best-of-rounds:
//   static = tileLeafHashes over the real Navigli data tile 000 (256 real precert entries, parsed for
//            their TimestampedEntry spans as a follower would) repeated N/256 times;
//   rfc6962 = rfc6962LeafHash over the real leaf_input bytes of the fixture get-entries items (cycled).
// - heads: K head checks = one root of the range (O(log n)) + one signature verification:
//   sth = a real Google Pilot STH (ECDSA P-256); checkpoint = the real Sycamore 2026h1 checkpoint
//   (note parsing, key ID, ECDSA P-256).
// Rates are per CPU-second of this process (process.cpuUsage: what one core does; the machine is shared,
// so wall-clock rates measure the other work too) and wall-clock beside them. The best round counts.
//   tsx bench/verify.ts [--entries 200000] [--heads 2000] [--rounds 3]
// Prints a table on stderr and ONE JSON line on stdout.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { expectedOrigin } from '../src/ct/checkpoint.js';
import { verifyCheckpoint } from '../src/verify/checkpoint-signature.js';
import { CompactRange } from '../src/verify/compact-range.js';
import { rfc6962LeafHash, tileLeafHashes } from '../src/verify/leaf-hash.js';
import { parseLogKey } from '../src/verify/log-key.js';
import { parseSignedTreeHead, verifySignedTreeHead } from '../src/verify/signed-tree-head.js';

const { values } = parseArgs({
  options: { entries: { type: 'string', default: '200000' }, heads: { type: 'string', default: '2000' }, rounds: { type: 'string', default: '3' } },
});
const N = Number(values.entries);
const K = Number(values.heads);
const ROUNDS = Number(values.rounds);
const F = new URL('../test/fixtures/', import.meta.url);
const read = (p: string) => readFileSync(new URL(p, F));

const tile = read('static-ct/navigli2025h2/tile/data/000');
const live = JSON.parse(read('rfc6962/live-entries_argon2026h2-nimbus2026_40.json').toString()) as { leaf_input: string }[];
const leafInputs = live.map((e) => Buffer.from(e.leaf_input, 'base64'));
const list = JSON.parse(read('loglist/all_logs_list_v78.2.json').toString()) as { operators: { logs?: L[]; tiled_logs?: L[] }[] };
interface L { description: string; key: string; log_id: string; submission_url?: string }
const listed = (name: string) => list.operators.flatMap((o) => [...(o.logs ?? []), ...(o.tiled_logs ?? [])]).find((l) => l.description.includes(name))!;
const pilot = listed("Google 'Pilot' log");
const sycamore = listed("Let's Encrypt 'Sycamore2026h1'");
const pilotKey = parseLogKey(pilot.key, pilot.log_id);
const sycamoreKey = parseLogKey(sycamore.key, sycamore.log_id);
const sth = parseSignedTreeHead(JSON.parse(read('rfc6962/get-sth_pilot_2013_909.jsonl').toString().split('\n')[0]));
const checkpoint = read('static-ct/checkpoints/sycamore2026h1.checkpoint.txt').toString();
const origin = expectedOrigin(sycamore.submission_url!);

interface Result { cpu: number; wall: number }

function measure(fn: () => void): Result {
  const c0 = process.cpuUsage();
  const w0 = performance.now();
  fn();
  const c = process.cpuUsage(c0);
  return { cpu: (c.user + c.system) / 1e6, wall: (performance.now() - w0) / 1000 };
}

function best(fn: () => void): Result {
  let b: Result | undefined;
  for (let i = 0; i < ROUNDS; i++) {
    const r = measure(fn);
    if (!b || r.cpu < b.cpu) b = r;
  }
  return b!;
}

const range = new CompactRange();
const runs: Record<string, { count: number; r: Result }> = {
  leaves_static: {
    count: Math.ceil(N / 256) * 256,
    r: best(() => {
      const rr = new CompactRange();
      for (let t = 0; t < N / 256; t++) for (const h of tileLeafHashes(tile)) rr.append(h);
    }),
  },
  leaves_rfc6962: {
    count: N,
    r: best(() => {
      const rr = new CompactRange();
      for (let i = 0; i < N; i++) rr.append(rfc6962LeafHash(leafInputs[i % leafInputs.length]));
    }),
  },
};
for (let i = 0; i < 2 ** 20 + 12345; i++) range.append(rfc6962LeafHash(leafInputs[i % leafInputs.length])); // a 20-level range
runs.heads_sth = {
  count: K,
  r: best(() => {
    for (let i = 0; i < K; i++) {
      range.root();
      verifySignedTreeHead(sth, pilotKey);
    }
  }),
};
runs.heads_checkpoint = {
  count: K,
  r: best(() => {
    for (let i = 0; i < K; i++) {
      range.root();
      verifyCheckpoint(checkpoint, sycamoreKey, origin);
    }
  }),
};

const cpu = os.cpus();
const machine = `${cpu[0]?.model ?? 'unknown'} × ${cpu.length}, load ${os.loadavg()[0].toFixed(1)}, node ${process.version}`;
process.stderr.write(`bench:verify — ${new Date().toISOString()} — ${machine}\n`);
process.stderr.write('| what | count | CPU s | per CPU-second | wall s | per wall-second |\n|---|---|---|---|---|---|\n');
const out: Record<string, unknown> = { date: new Date().toISOString(), machine, entries: N, heads: K };
for (const [name, { count, r }] of Object.entries(runs)) {
  process.stderr.write(`| ${name} | ${count} | ${r.cpu.toFixed(3)} | ${Math.round(count / r.cpu)} | ${r.wall.toFixed(3)} | ${Math.round(count / r.wall)} |\n`);
  out[`${name}_per_cpu_s`] = Math.round(count / r.cpu);
  out[`${name}_per_wall_s`] = Math.round(count / r.wall);
}
process.stdout.write(`${JSON.stringify(out)}\n`);
