// `npm ci` must install on the Node.js the package promises (engines: >= 20.19) without an EBADENGINE
// warning: every package the lock file installs for production must accept Node 20. @nats-io/nuid 3.0.0
// (pulled in by the NATS client 3.4) declares node >= 22, so package.json overrides it with 2.0.3 (same
// API: `nuid.next()`, `new Nuid()`; the NATS tests run the client against a real nats-server with it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '../..');

/**
 * The lowest Node major a simple engines range accepts (`>=20`, `>= 18.x`, `^20.19.0`, `6.* || >= 10.*`,
 * `*`); undefined for a form this does not read (the test then lists it, to be looked at).
 */
function lowestMajor(range: string): number | undefined {
  if (range.trim() === '*') return 0;
  const majors = range.split('||').map((alt) => /^\s*(?:>=|\^|~)?\s*v?(\d+)(?:\.(?:\d+|x|\*))*\s*(?:<.*)?$/.exec(alt)?.[1]);
  if (majors.some((m) => m === undefined)) return undefined;
  return Math.min(...majors.map(Number));
}

test('the engines ranges are read as npm reads them', () => {
  assert.equal(lowestMajor('>= 22.x'), 22);
  assert.equal(lowestMajor('>=18'), 18);
  assert.equal(lowestMajor('^20.19.0 || >=22'), 20);
  assert.equal(lowestMajor('>=14.0.0 <23'), 14);
  assert.equal(lowestMajor('6.* || 8.* || >= 10.*'), 6);
  assert.equal(lowestMajor('*'), 0);
  assert.equal(lowestMajor('node'), undefined);
});

test('every production package in the lock file accepts Node 20', () => {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; engines?: { node?: string } }> };
  const promised = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
  assert.equal(lowestMajor(promised), 20);
  const refusing: string[] = [];
  let checked = 0;
  for (const [path, p] of Object.entries(lock.packages)) {
    if (path === '' || p.dev === true || p.engines?.node === undefined) continue;
    checked++;
    const major = lowestMajor(p.engines.node);
    if (major === undefined || major > 20) refusing.push(`${path}: node ${p.engines.node}`);
  }
  assert.ok(checked > 0, 'some production package declares engines');
  assert.deepEqual(refusing, []);
});
