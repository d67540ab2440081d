// Extension renderings checked against @peculiar/x509's decoding of the same certificates (fixture corpus
// and /etc/ssl/certs): key identifiers, basic constraints, key usage, EKU, AIA, CRL points, policies, SCTs,
// and that every extension shows up under its key or in `extra`. EasySSL's ordering quirks are undone
// before comparing (peculiar does not keep AIA order across methods), so these check the decoded values.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderDer } from '../../src/render/cert-json.js';
import { type NamedCert, fixtureCorpus, systemCaCerts } from './corpus.js';

const KEY_OF: Record<string, string> = {
  '1.3.6.1.5.5.7.1.1': 'authorityInfoAccess',
  '2.5.29.35': 'authorityKeyIdentifier',
  '2.5.29.19': 'basicConstraints',
  '2.5.29.32': 'certificatePolicies',
  '2.5.29.31': 'crlDistributionPoints',
  '1.3.6.1.4.1.11129.2.4.3': 'ctlPoisonByte',
  '1.3.6.1.4.1.11129.2.4.2': 'ctlSignedCertificateTimestamp',
  '2.5.29.37': 'extendedKeyUsage',
  '2.5.29.18': 'issuerAltName',
  '2.5.29.15': 'keyUsage',
  '2.5.29.17': 'subjectAltName',
  '2.5.29.14': 'subjectKeyIdentifier',
};

const KU_NAMES: [number, string][] = [
  [x509.KeyUsageFlags.digitalSignature, 'Digital Signature'],
  [x509.KeyUsageFlags.nonRepudiation, 'Non Repudiation'],
  [x509.KeyUsageFlags.keyEncipherment, 'Key Encipherment'],
  [x509.KeyUsageFlags.dataEncipherment, 'Data Encipherment'],
  [x509.KeyUsageFlags.keyAgreement, 'Key Agreement'],
  [x509.KeyUsageFlags.keyCertSign, 'Key Cert Sign'],
  [x509.KeyUsageFlags.cRLSign, 'C R L Sign'],
  [x509.KeyUsageFlags.encipherOnly, 'Encipher Only'],
  [x509.KeyUsageFlags.decipherOnly, 'Decipher Only'],
];

const EKU_NAMES: Record<string, string> = {
  '1.3.6.1.5.5.7.3.1': 'TLS Web server authentication',
  '1.3.6.1.5.5.7.3.2': 'TLS Web client authentication',
  '1.3.6.1.5.5.7.3.3': 'Code signing',
  '1.3.6.1.5.5.7.3.4': 'E-mail protection',
  '1.3.6.1.5.5.7.3.8': 'Timestamping',
  '1.3.6.1.5.5.7.3.9': 'OCSPstamping',
  '1.3.6.1.5.5.7.3.5': 'IP security end system',
  '1.3.6.1.5.5.7.3.6': 'IP security tunnel termination',
  '1.3.6.1.5.5.7.3.7': 'IP security user',
};

const colon = (hex: string): string => hex.toUpperCase().match(/../g)!.join(':');

function compare(c: NamedCert, counts: Map<string, number>): void {
  const ours = (JSON.parse('{' + renderDer(c.der).body) as { extensions: Record<string, unknown> }).extensions;
  const cert = new x509.X509Certificate(c.der);
  const at = (what: string): string => `${c.name} ${what}`;
  const seenTypes = new Set<string>();
  for (const e of cert.extensions) {
    const key = KEY_OF[e.type];
    if (key) assert.ok(key in ours, at(`${e.type} rendered as ${key}`));
    else assert.ok((ours.extra as string[] | undefined)?.includes(e.type), at(`${e.type} listed in extra`));
    seenTypes.add(e.type);
    counts.set(e.type, (counts.get(e.type) ?? 0) + 1);
  }
  const extra = (ours.extra as string[] | undefined) ?? [];
  const others = Array.from(cert.extensions, (e) => e.type).filter((t) => !KEY_OF[t]);
  assert.deepEqual(extra, others.reverse(), at('extra: every other extension, in reverse order'));

  const ski = cert.getExtension(x509.SubjectKeyIdentifierExtension);
  if (ski) assert.equal(ours.subjectKeyIdentifier, colon(ski.keyId), at('SKI'));
  const aki = cert.getExtension(x509.AuthorityKeyIdentifierExtension);
  if (aki) assert.equal(ours.authorityKeyIdentifier, aki.keyId ? `keyid:${colon(aki.keyId)}\n` : undefined, at('AKI'));
  const bc = cert.getExtension(x509.BasicConstraintsExtension);
  if (bc) assert.equal(ours.basicConstraints, bc.ca ? 'CA:TRUE' : 'CA:FALSE', at('basicConstraints'));
  const ku = cert.getExtension(x509.KeyUsagesExtension);
  if (ku) assert.equal(ours.keyUsage, KU_NAMES.filter(([flag]) => ku.usages & flag).map(([, n]) => n).join(', '), at('keyUsage'));
  const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
  if (eku) assert.equal(ours.extendedKeyUsage, Array.from(eku.usages).map((u) => EKU_NAMES[String(u)] ?? '').join(', '), at('EKU'));
  const aia = cert.getExtension(x509.AuthorityInfoAccessExtension);
  if (aia) {
    const lines = String(ours.authorityInfoAccess).split('\n');
    assert.equal(lines.pop(), '', at('AIA ends in a newline'));
    const expected = [
      ...aia.ocsp.filter((g) => g.type === 'url').map((g) => `OCSP - URI:${g.value}`),
      ...aia.caIssuers.filter((g) => g.type === 'url').map((g) => `CA Issuers - URI:${g.value}`),
    ];
    assert.deepEqual(lines.filter((l) => !l.startsWith(':')).sort(), expected.sort(), at('AIA'));
  }
  const crl = cert.getExtension(x509.CRLDistributionPointsExtension);
  if (crl) {
    const uris = Array.from(crl.distributionPoints)
      .filter((dp) => dp.distributionPoint?.fullName && !dp.reasons && !dp.cRLIssuer)
      .flatMap((dp) => dp.distributionPoint!.fullName!.map((g) => g.uniformResourceIdentifier).filter((u): u is string => u !== undefined));
    const ourUris = String(ours.crlDistributionPoints)
      .split('\n')
      .filter((l) => l.startsWith(' URI:'))
      .map((l) => l.slice(5));
    assert.deepEqual(ourUris.sort(), uris.sort(), at('CRL URIs'));
  }
  const cp = cert.getExtension(x509.CertificatePolicyExtension);
  if (cp) {
    const ourPolicies = String(ours.certificatePolicies)
      .split('\n')
      .filter((l) => l.startsWith('Policy: '))
      .map((l) => l.slice(8));
    // EasySSL's algorithm drops policies listed before a qualified one; what is shown must be real.
    for (const p of ourPolicies) assert.ok(Array.from(cp.policies).includes(p), at(`policy ${p}`));
    assert.ok(ourPolicies.length >= 1, at('at least one policy shown'));
  }
  const sct = cert.extensions.find((e) => e.type === '1.3.6.1.4.1.11129.2.4.2');
  if (sct) {
    const urlSafePadded = Buffer.from(sct.value).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
    assert.equal(ours.ctlSignedCertificateTimestamp, urlSafePadded, at('SCT'));
  }
  assert.equal(ours.ctlPoisonByte, seenTypes.has('1.3.6.1.4.1.11129.2.4.3') ? true : undefined, at('poison'));
}

test('extension renderings agree with @peculiar/x509 on every fixture certificate', () => {
  const counts = new Map<string, number>();
  for (const c of fixtureCorpus()) compare(c, counts);
  // The corpus exercises every rendered extension kind.
  for (const oid of Object.keys(KEY_OF).filter((o) => o !== '2.5.29.18')) assert.ok((counts.get(oid) ?? 0) > 0, `no ${oid} in the corpus`);
});

test('extension renderings agree with @peculiar/x509 on every CA certificate in /etc/ssl/certs', () => {
  const counts = new Map<string, number>();
  const certs = systemCaCerts();
  assert.ok(certs.length >= 100);
  for (const c of certs) compare(c, counts);
  assert.ok((counts.get('2.5.29.19') ?? 0) > 100);
});
