// Differential test against OpenSSL (`openssl x509`, spawned as a test-time oracle): for every certificate
// of the fixtures and every CA certificate in /etc/ssl/certs, our rendered subject/issuer attribute values,
// DNS SANs, serial, validity and SHA-1 fingerprint must agree with what OpenSSL reports.
// Known, documented difference: BMPString/UniversalString attributes, which certstream renders as "".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type NamedCert, fixtureCorpus, systemCaCerts } from './corpus.js';
import { NAME_KEYS, type NameKey, normalizeSerial, ourFields, seconds } from './oracle-fields.js';

const run = promisify(execFile);
const haveOpenssl = spawnSync('openssl', ['version']).status === 0;

interface OpensslFields {
  subject: Partial<Record<NameKey, string>>;
  issuer: Partial<Record<NameKey, string>>;
  serial: string;
  notBefore: number;
  notAfter: number;
  fingerprint: string;
  dnsNames: string[];
}

/**
 * Parses OpenSSL's one-line name format (`pkcs7 -print_certs`: RFC 2253 escaping, UTF-8 bytes as \XX,
 * values with specials in double quotes, ", " between RDNs and " + " inside one) into the last value of
 * each certstream attribute.
 */
export function parseOnelineName(text: string): Partial<Record<NameKey, string>> {
  const out: Partial<Record<NameKey, string>> = {};
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf(' = ', i);
    if (eq < 0) break;
    const key = text.slice(i, eq);
    i = eq + 3;
    const bytes: number[] = [];
    const quoted = text[i] === '"';
    if (quoted) i++;
    while (i < text.length) {
      const c = text[i];
      if (quoted && c === '"') {
        i++;
        break;
      }
      if (!quoted && (text.startsWith(', ', i) || text.startsWith(' + ', i))) break;
      if (c === '\\') {
        const hex = text.slice(i + 1, i + 3);
        if (/^[0-9A-F]{2}$/.test(hex)) {
          bytes.push(parseInt(hex, 16));
          i += 3;
        } else {
          bytes.push(...Buffer.from(text[i + 1], 'utf8'));
          i += 2;
        }
        continue;
      }
      bytes.push(...Buffer.from(c, 'utf8'));
      i++;
    }
    if ((NAME_KEYS as readonly string[]).includes(key)) out[key as NameKey] = Buffer.from(bytes).toString('utf8');
    if (text.startsWith(', ', i)) i += 2;
    else if (text.startsWith(' + ', i)) i += 3;
  }
  return out;
}

/** Serial, validity and DNS SANs from one certificate's `-text` block. */
function parseTextBlock(block: string): Pick<OpensslFields, 'serial' | 'notBefore' | 'notAfter' | 'dnsNames'> {
  const lines = block.split('\n');
  const at = lines.findIndex((l) => l.trim().startsWith('Serial Number:'));
  const head = lines[at].trim().slice('Serial Number:'.length).trim();
  let serial: string;
  if (head !== '' && head !== '(Negative)') {
    const m = /\((-?)0x([0-9a-f]+)\)/.exec(head);
    if (!m) throw new Error(`serial line ${head}`);
    serial = m[1] + m[2];
  } else {
    serial = (head === '(Negative)' ? '-' : '') + lines[at + 1].trim().replace(/:/g, '');
  }
  const date = (label: string): number => {
    const l = lines.find((x) => x.trim().startsWith(label));
    if (l === undefined) throw new Error(`no ${label}`);
    return Date.parse(l.trim().slice(label.length).trim()) / 1000;
  };
  const sanAt = lines.findIndex((l) => l.trim().startsWith('X509v3 Subject Alternative Name'));
  const dnsNames =
    sanAt < 0
      ? []
      : lines[sanAt + 1]
          .trim()
          .split(', ')
          .filter((s) => s.startsWith('DNS:'))
          .map((s) => s.slice(4));
  return { serial, notBefore: date('Not Before:'), notAfter: date('Not After :'), dnsNames };
}

/**
 * Asks OpenSSL about every certificate with three processes in all (spawning `openssl x509` per certificate
 * costs ~40 ms each): `pkcs7 -print_certs` for the names, `pkcs7 -print_certs -text` for serial, validity and
 * SANs, and `dgst -sha1` over the DER files for the fingerprints.
 */
async function opensslFields(certs: NamedCert[], dir: string): Promise<OpensslFields[]> {
  const pem = certs.map((c) => `-----BEGIN CERTIFICATE-----\n${(c.der.toString('base64').match(/.{1,64}/g) ?? []).join('\n')}\n-----END CERTIFICATE-----\n`);
  writeFileSync(join(dir, 'bundle.pem'), pem.join(''));
  const paths = certs.map((c, i) => {
    const p = join(dir, `${i}.der`);
    writeFileSync(p, c.der);
    return p;
  });
  const opts = { encoding: 'utf8' as const, maxBuffer: 1 << 28 };
  await run('openssl', ['crl2pkcs7', '-nocrl', '-certfile', join(dir, 'bundle.pem'), '-outform', 'DER', '-out', join(dir, 'bundle.p7')], opts);
  const p7 = ['pkcs7', '-inform', 'DER', '-in', join(dir, 'bundle.p7'), '-print_certs', '-noout'];
  const [names, text, digests] = await Promise.all([
    run('openssl', p7, opts),
    run('openssl', [...p7, '-text'], opts),
    run('openssl', ['dgst', '-sha1', '-c', ...paths], opts),
  ]);
  const nameLines = names.stdout.split('\n');
  const subjects = nameLines.filter((l) => l.startsWith('subject=')).map((l) => l.slice('subject='.length));
  const issuers = nameLines.filter((l) => l.startsWith('issuer=')).map((l) => l.slice('issuer='.length));
  const blocks = text.stdout.split(/^Certificate:$/m).slice(1);
  const fps = new Map(
    digests.stdout
      .trim()
      .split('\n')
      .map((l) => {
        const m = /^SHA1\((.*)\)= ([0-9a-f:]+)$/.exec(l);
        if (!m) throw new Error(`dgst line ${l}`);
        return [m[1], m[2].toUpperCase()] as const;
      }),
  );
  assert.equal(subjects.length, certs.length, 'one subject line per certificate');
  assert.equal(blocks.length, certs.length, 'one text block per certificate');
  return certs.map((_, i) => ({
    subject: parseOnelineName(subjects[i]),
    issuer: parseOnelineName(issuers[i]),
    fingerprint: fps.get(paths[i]) ?? '',
    ...parseTextBlock(blocks[i]),
  }));
}

/** Compares one certificate; returns how many non-null name values agreed (to prove the parse found them). */
function compare(c: NamedCert, theirs: OpensslFields): number {
  let agreed = 0;
  const ours = ourFields(c.der);
  const where = `${c.name}`;
  for (const which of ['subject', 'issuer'] as const) {
    for (const key of NAME_KEYS) {
      const o = ours[which][key];
      const t = theirs[which][key] ?? null;
      if (ours.wideStringAttrs[which].has(key)) {
        assert.equal(o, '', `${where} ${which}.${key}: BMP/Universal strings render as ""`);
        continue;
      }
      assert.equal(o, t, `${where} ${which}.${key}`);
      if (t !== null) agreed++;
    }
  }
  assert.deepEqual(ours.dnsNames, theirs.dnsNames, `${where} DNS SANs`);
  assert.equal(ours.serial, normalizeSerial(theirs.serial), `${where} serial`);
  assert.equal(seconds(ours.notBefore), theirs.notBefore, `${where} notBefore`);
  assert.equal(seconds(ours.notAfter), theirs.notAfter, `${where} notAfter`);
  assert.equal(ours.fingerprint, theirs.fingerprint, `${where} SHA-1 fingerprint`);
  return agreed;
}

async function differential(certs: NamedCert[]): Promise<OpensslFields[]> {
  const dir = mkdtempSync(join(tmpdir(), 'render-oracle-'));
  try {
    const theirs = await opensslFields(certs, dir);
    let agreed = 0;
    certs.forEach((c, i) => (agreed += compare(c, theirs[i])));
    // Nearly every certificate has subject and issuer values that OpenSSL and we both read.
    assert.ok(agreed >= 1.5 * certs.length, `only ${agreed} name values compared for ${certs.length} certificates`);
    return theirs;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('OpenSSL agrees on every fixture certificate', { skip: haveOpenssl ? false : 'openssl not installed (.ci/run installs it)' }, async () => {
  const certs = fixtureCorpus();
  assert.ok(certs.length >= 300, `fixture corpus of ${certs.length} certificates`);
  const theirs = await differential(certs);
  assert.ok(theirs.filter((t) => t.dnsNames.length > 0).length >= 250, 'DNS SANs were compared');
});

test('OpenSSL agrees on every CA certificate in /etc/ssl/certs', { skip: haveOpenssl ? false : 'openssl not installed (.ci/run installs it)' }, async () => {
  const certs = systemCaCerts();
  assert.ok(certs.length >= 100, `expected Debian's ca-certificates in /etc/ssl/certs, found ${certs.length} (.ci/run installs them)`);
  assert.equal((await differential(certs)).length, certs.length);
});
