// Differential test against @peculiar/x509 (an independent ASN.1 stack) over the same corpus as the
// OpenSSL test: subject/issuer attribute values, DNS SANs, serial, validity and SHA-1 fingerprint.
// Known, documented differences: BMPString/UniversalString attributes, which certstream renders as "";
// and a UTCTime with an explicit "+hhmm"/"-hhmm" offset, which @peculiar (asn1js) misreads (it gives
// 1899-12-31 for ftp.eurofins.se's "360310124010+0000"; OpenSSL agrees with us): such a time is checked
// against the raw text read independently here instead.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type NamedCert, fixtureCorpus, systemCaCerts } from './corpus.js';
import { NAME_KEYS, type NameKey, normalizeSerial, ourFields, seconds } from './oracle-fields.js';

/** @peculiar's short names for the certstream attributes. */
const PECULIAR_KEY: Record<NameKey, string> = { C: 'C', CN: 'CN', L: 'L', O: 'O', OU: 'OU', ST: 'ST', emailAddress: 'E' };

function lastValue(name: x509.Name, key: NameKey): string | null {
  const values = name.getField(PECULIAR_KEY[key]);
  return values.length === 0 ? null : values[values.length - 1];
}

/** Seconds of a UTCTime "YYMMDDHHMMSS±hhmm" with a zero offset, read here; null for every other form. */
function timeOf(raw: string): number | null {
  const m = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)[+-]0000$/.exec(raw);
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number);
  return Date.UTC(y < 50 ? 2000 + y : 1900 + y, mo - 1, d, h, mi, s) / 1000;
}

async function compare(c: NamedCert): Promise<number> {
  const ours = ourFields(c.der);
  const theirs = new x509.X509Certificate(c.der);
  let agreed = 0;
  for (const which of ['subject', 'issuer'] as const) {
    const name = which === 'subject' ? theirs.subjectName : theirs.issuerName;
    for (const key of NAME_KEYS) {
      const o = ours[which][key];
      if (ours.wideStringAttrs[which].has(key)) {
        assert.equal(o, '', `${c.name} ${which}.${key}: BMP/Universal strings render as ""`);
        continue;
      }
      const t = lastValue(name, key);
      assert.equal(o, t, `${c.name} ${which}.${key}`);
      if (t !== null) agreed++;
    }
  }
  const san = theirs.getExtension(x509.SubjectAlternativeNameExtension);
  const dns = san ? san.names.items.filter((n) => n.type === 'dns').map((n) => n.value) : [];
  assert.deepEqual(ours.dnsNames, dns, `${c.name} DNS SANs`);
  assert.equal(ours.serial, normalizeSerial(theirs.serialNumber), `${c.name} serial`);
  assert.equal(seconds(ours.notBefore), timeOf(ours.rawNotBefore) ?? theirs.notBefore.getTime() / 1000, `${c.name} notBefore`);
  assert.equal(seconds(ours.notAfter), timeOf(ours.rawNotAfter) ?? theirs.notAfter.getTime() / 1000, `${c.name} notAfter`);
  const fp = Buffer.from(await theirs.getThumbprint('SHA-1')).toString('hex').toUpperCase().match(/../g)!.join(':');
  assert.equal(ours.fingerprint, fp, `${c.name} SHA-1 fingerprint`);
  return agreed;
}

async function differential(certs: NamedCert[]): Promise<number> {
  let agreed = 0;
  for (const c of certs) agreed += await compare(c);
  return agreed;
}

test('@peculiar/x509 agrees on every fixture certificate', async () => {
  const certs = fixtureCorpus();
  assert.ok(certs.length >= 300);
  assert.ok((await differential(certs)) >= 1.5 * certs.length);
});

test('@peculiar/x509 agrees on every CA certificate in /etc/ssl/certs', async () => {
  const certs = systemCaCerts();
  assert.ok(certs.length >= 100, `expected Debian's ca-certificates in /etc/ssl/certs, found ${certs.length} (.ci/run installs them)`);
  assert.ok((await differential(certs)) >= 1.5 * certs.length);
});
