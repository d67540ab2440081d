/** Real vectors shared by the verification tests (sources in test/fixtures/SOURCES.md). */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const fixtures = fileURLToPath(new URL('../fixtures/', import.meta.url));

interface ListedLog {
  description: string;
  log_id: string;
  key: string;
  url?: string;
  submission_url?: string;
}

const list = JSON.parse(readFileSync(fixtures + 'loglist/all_logs_list_v78.2.json', 'utf8')) as {
  operators: { logs?: ListedLog[]; tiled_logs?: ListedLog[] }[];
};
const all = list.operators.flatMap((o) => [...(o.logs ?? []), ...(o.tiled_logs ?? [])]);

/** The list entry whose description contains `name` (exactly one must). */
export function listed(name: string): ListedLog {
  const found = all.filter((l) => l.description.includes(name));
  if (found.length !== 1) throw new Error(`${found.length} logs named ${name}`);
  return found[0];
}

/** The 909 real get-sth bodies of Google Pilot (2013). */
export const pilotSths = readFileSync(fixtures + 'rfc6962/get-sth_pilot_2013_909.jsonl', 'utf8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l) as Record<string, unknown>);

export const sycamoreCheckpoint = readFileSync(fixtures + 'static-ct/checkpoints/sycamore2026h1.checkpoint.txt', 'utf8');
export const archeCheckpoint = readFileSync(fixtures + 'static-ct/checkpoints/arche2026h1-staging.checkpoint.txt', 'utf8');

/** A copy of `b` with bit `bit` of byte `at` flipped. */
export function flip(b: Uint8Array, at: number, bit = 0): Buffer {
  const c = Buffer.from(b);
  c[at] ^= 1 << bit;
  return c;
}
