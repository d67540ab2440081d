// Byte compatibility with the original server: every file in test/fixtures/calidog-golden/out is compared
// byte for byte with our output. Documented exceptions only: all_domains order above 32 names (the
// original's Erlang hash order; we sort byte-wise), checked here as a set plus our sorted order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { decodeJsonEntry } from '../../src/ct/merkle-leaf.js';
import type { CtEntry, LogDescriptor } from '../../src/ct/types.js';
import { renderDer } from '../../src/render/cert-json.js';
import { Renderer } from '../../src/render/renderer.js';

const GOLDEN = 'test/fixtures/calidog-golden';
const OUT = join(GOLDEN, 'out');

const LOG: LogDescriptor = {
  kind: 'rfc6962',
  url: 'https://ct.googleapis.com/logs/us1/argon2025h1/',
  name: "Google 'Argon2025h1' log",
  operator: 'Google',
  logId: '',
  monitoringUrl: 'https://ct.googleapis.com/logs/us1/argon2025h1/',
  state: 'usable',
};

function golden(name: string): string {
  return readFileSync(join(OUT, name), 'utf8');
}

/** The `leaf_cert` object as the golden cert files hold it (all_domains, no as_der), compact. */
function leafObject(der: Uint8Array): string {
  const r = renderDer(der);
  return '{"all_domains":' + JSON.stringify(r.allDomains) + ',' + r.body;
}

/** Jason's pretty printer for these documents is JSON.stringify(…, null, 2) (no empty containers involved). */
function pretty(json: string): string {
  return JSON.stringify(JSON.parse(json), null, 2);
}

const certFiles = readdirSync(join(GOLDEN, 'certs')).filter((f) => f !== 'v1_no_extensions.der');
const used = new Set<string>();

for (const file of certFiles) {
  const out = file === 'synthetic_openssl_cert.der' ? 'synthetic_openssl_cert.json' : `cert_${file}.json`;
  test(`golden ${out}: leaf_cert of certs/${file} byte for byte`, () => {
    used.add(out);
    const ours = leafObject(readFileSync(join(GOLDEN, 'certs', file)));
    const expected = JSON.stringify(JSON.parse(golden(out)));
    const names = (JSON.parse(expected) as { all_domains: string[] }).all_domains;
    if (names.length <= 32) {
      assert.equal(ours, expected);
      return;
    }
    // Documented exception: > 32 names. Same set, sorted byte-wise; everything else identical.
    const o = JSON.parse(ours) as { all_domains: string[] };
    assert.deepEqual([...o.all_domains].sort(), [...names].sort());
    assert.deepEqual(o.all_domains, [...names].sort());
    const strip = (s: string): string => s.replace(/^\{"all_domains":\[[^\]]*\],/, '');
    assert.equal(strip(ours), strip(expected));
  });
}

function x509Entry(): CtEntry {
  const input = JSON.parse(golden('x509_entry.input.json')) as unknown;
  return decodeJsonEntry(123456789, input);
}

function precertEntry(): CtEntry {
  // The golden full frame carries every DER we need: the pre_certificate and its chain.
  const full = JSON.parse(golden('precert_entry_synthetic.full.json')) as {
    data: { leaf_cert: { as_der: string }; chain: { as_der: string }[] };
  };
  return {
    index: 42,
    timestamp: 0,
    type: 'precert',
    leaf: Buffer.from(full.data.leaf_cert.as_der, 'base64'),
    chain: full.data.chain.map((c) => Buffer.from(c.as_der, 'base64')),
  };
}

const ENTRIES: [string, () => CtEntry, number][] = [
  ['x509_entry', x509Entry, 1730205715.758093],
  ['precert_entry_synthetic', precertEntry, 1730205716.5],
];

for (const [name, make, seen] of ENTRIES) {
  test(`golden ${name}: full, lite and dns frames byte for byte`, () => {
    const frames = new Renderer().render(LOG, make(), seen);
    for (const [suffix, ours] of [['full', frames.full], ['lite', frames.lite], ['dns', frames.domains]] as const) {
      used.add(`${name}.${suffix}.json`);
      assert.equal(ours, golden(`${name}.${suffix}.json`).trimEnd(), `${name}.${suffix}.json`);
    }
    assert.deepEqual(frames.allDomains, (JSON.parse(frames.domains) as { data: string[] }).data);
  });

  test(`golden ${name}: /example.json and /latest.json bodies are our lite frame pretty-printed`, () => {
    const { lite } = new Renderer().render(LOG, make(), seen);
    used.add(`${name}.example_json_pretty.json`);
    used.add(`${name}.latest_json_pretty.json`);
    assert.equal(pretty(lite), golden(`${name}.example_json_pretty.json`).trimEnd());
    assert.equal(pretty(`{"messages":[${lite}]}`), golden(`${name}.latest_json_pretty.json`).trimEnd());
  });
}

test('golden: the same entry rendered twice (chain from the cache) gives identical frames', () => {
  const r = new Renderer();
  const a = r.render(LOG, x509Entry(), 1730205715.758093);
  const b = r.render(LOG, x509Entry(), 1730205715.758093);
  assert.equal(b.full, a.full);
  assert.equal(r.cachedChainCerts, 2);
});

test('golden: every file in out/ is covered by a byte comparison', () => {
  const all = readdirSync(OUT).filter((f) => f !== 'x509_entry.input.json');
  // Runs last in this file (node:test runs tests in order), after every comparison above.
  assert.deepEqual(all.filter((f) => !used.has(f)), []);
  assert.ok(all.length >= 31);
});
