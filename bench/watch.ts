/**
 * npm run bench:watch — how many certificate names per second the certstream-watch matcher handles on
 * one core (issue 13 §1; goal ≥ 20,000 names/s) with a watch list of 10,000 domain rules, 100 substring
 * rules and a few regexes.
 *
 * Names are generated from a seeded PRNG in the shapes the stream carries (subdomains, wildcards,
 * punycode, about 2 % hitting a domain rule, some a substring). They go through the real Matcher in
 * batches of --batch names, as the runner calls it: normalisation (lower case, IDNA), the label-suffix
 * index, the Aho-Corasick automaton, and the regexes in their worker thread. Reported: names per
 * second of wall time, and names per CPU-second of the whole process (user + system time of the main
 * thread and the regex worker together: the honest "one core" figure).
 *
 * Then the stores: --rows match rows recorded in batches of --batch (one transaction each, with one
 * webhook delivery per row, a quarter of them sightings) into SQLite in a temp dir and, when Debian's
 * PostgreSQL is installed, into a throw-away cluster (test/watch/support/postgres.ts).
 *
 *   tsx bench/watch.ts [--names 300000] [--batch 500] [--domains 10000] [--substrings 100] [--regexes 3] [--rows 10000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Matcher } from '../src/watch/matcher.js';
import { parseWatchFile } from '../src/watch/rules.js';
import { openStore, parseDbUrl, type MatchRow } from '../src/watch/store.js';
import { findPostgres, startPostgres } from '../test/watch/support/postgres.js';
import { lcg } from '../test/support/prng.js';

const { values } = parseArgs({
  options: {
    names: { type: 'string', default: '300000' },
    batch: { type: 'string', default: '500' },
    domains: { type: 'string', default: '10000' },
    substrings: { type: 'string', default: '100' },
    regexes: { type: 'string', default: '3' },
    rows: { type: 'string', default: '10000' },
  },
});
const N = Number(values.names);
const BATCH = Number(values.batch);
const rnd = lcg(13);
const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)];
const word = (n: number) => Array.from({ length: n }, () => String.fromCharCode(97 + Math.floor(rnd() * 26))).join('');
const TLDS = ['com', 'net', 'org', 'de', 'io', 'co.uk', 'com.br', 'fr', 'xyz', 'app'];

const domains = Array.from({ length: Number(values.domains) }, () => `${word(4 + Math.floor(rnd() * 8))}.${pick(TLDS)}`);
const substrings = Array.from({ length: Number(values.substrings) }, () => word(5 + Math.floor(rnd() * 4)));
const regexes = ['/^(?:login|signin)[-.].*\\.(?:xyz|top)$/', '/paypa[l1]-?(?:secure|verify)/', '/^[a-z0-9]{30,}\\./', '/\\bbank-[0-9]{3,}\\b/'].slice(0, Number(values.regexes));
const watch = [...domains, ...substrings.map((s) => `~${s}`), ...regexes].join('\n');
const { rules, problems } = parseWatchFile(watch);
if (problems.length > 0) throw new Error(`bench watch list: ${problems[0].message}`);

function name(): string {
  const r = rnd();
  if (r < 0.02) return `${pick(['www', 'mail', 'api', '*'])}.${pick(domains)}`; // a domain rule hit
  if (r < 0.03) return `${word(3)}${pick(substrings)}${word(2)}.${pick(TLDS)}`; // a substring hit
  if (r < 0.04) return `xn--${word(6)}-${word(3)}.${pick(TLDS)}`; // punycode
  const labels = 1 + Math.floor(rnd() * 3);
  return `${rnd() < 0.2 ? '*.' : ''}${Array.from({ length: labels }, () => word(3 + Math.floor(rnd() * 9))).join('.')}.${pick(TLDS)}`;
}
const names = Array.from({ length: N }, name);

const matcher = new Matcher(rules, { timeoutMs: 1000 });
// Warm up (JIT, the regex worker's start).
for (let i = 0; i < 20; i++) await matcher.match(names.slice(i * BATCH, (i + 1) * BATCH));

let best = { wall: 0, cpu: 0, hits: 0 };
for (let round = 0; round < 3; round++) {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let hits = 0;
  for (let i = 0; i < N; i += BATCH) hits += (await matcher.match(names.slice(i, i + BATCH))).length;
  const wallS = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(cpu0);
  const cpuS = (c.user + c.system) / 1e6;
  const r = { wall: N / wallS, cpu: N / cpuS, hits };
  if (r.wall > best.wall) best = r;
}
await matcher.close();

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
console.log(`bench:watch ${new Date().toISOString().slice(0, 16)}Z, ${cpus()[0]?.model ?? 'unknown CPU'} (${cpus().length} vCPUs), Node ${process.version}`);
console.log(`watch list: ${domains.length} domain rules, ${substrings.length} substring rules, ${regexes.length} regex rules; ${fmt(N)} names in batches of ${BATCH}`);
console.log(`best of 3: ${fmt(best.wall)} names/s (wall), ${fmt(best.cpu)} names per CPU-second (main thread + regex worker), ${best.hits} matches`);
console.log(best.wall >= 20_000 ? 'goal (>= 20,000 names/s) met' : 'goal (>= 20,000 names/s) NOT met');

/** Match rows per second recorded into the store at `url`. */
async function storeRate(url: string, total: number): Promise<number> {
  const store = await openStore(parseDbUrl(url));
  try {
    const t0 = performance.now();
    for (let i = 0; i < total; i += BATCH) {
      const rows: MatchRow[] = [];
      for (let k = i; k < Math.min(total, i + BATCH); k++) {
        rows.push({
          time: Date.now() / 1000, domain: `www.${domains[k % domains.length]}`, rule: domains[k % domains.length], log: 'ct.example/log',
          certIndex: k, fingerprint: 'AA:BB', serial: `S${k % Math.floor(total * 0.75)}`, issuer: '/CN=Bench CA', notBefore: null, notAfter: null,
          updateType: 'X509LogEntry',
        });
      }
      await store.record(rows, ['http://127.0.0.1:9/hook']);
    }
    return total / ((performance.now() - t0) / 1000);
  } finally {
    await store.close();
  }
}

const ROWS = Number(values.rows);
const dir = mkdtempSync(join(tmpdir(), 'bench-watch-'));
try {
  console.log(`store, ${fmt(ROWS)} match rows in batches of ${BATCH}: SQLite ${fmt(await storeRate(`sqlite:${join(dir, 'w.sqlite')}`, ROWS))} rows/s`);
  const pg = findPostgres();
  if ('bin' in pg) {
    const cluster = await startPostgres(pg.bin);
    try {
      console.log(`store, ${fmt(ROWS)} match rows in batches of ${BATCH}: PostgreSQL ${fmt(await storeRate(cluster.createDatabase('bench'), ROWS))} rows/s (local cluster, fsync off)`);
    } finally {
      cluster.stop();
    }
  } else console.log(`store: PostgreSQL not measured (${pg.missing})`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
