// Certificates the original server could not render (it lost the whole batch on each of them, issue 3 §2)
// and other edge shapes: each renders, with the choice documented in the README's wire-format section.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CertstreamError } from '../../src/errors.js';
import type { CtEntry, LogDescriptor } from '../../src/ct/types.js';
import { Renderer } from '../../src/render/renderer.js';
import { erlangFloat, jsonString } from '../../src/render/json.js';
import {
  type Bytes, bits, bmp, bool, buildCert, ctx, ext, genTime, gn, ia5, int, name, nul, octet, oid, printable, seq, teletex,
  set, tlv, utcTime, utf8,
} from '../x509/der-builder.js';
import { RFC6962_LOG, STATIC_LOG } from '../x509/corpus.js';

interface Leaf {
  all_domains: string[];
  extensions: Record<string, unknown>;
  fingerprint: string;
  issuer: Record<string, string | null>;
  subject: Record<string, string | null>;
  not_before: number | string | null;
  not_after: number | string | null;
  serial_number: string | null;
  signature_algorithm: string | null;
}

function entry(leaf: Uint8Array, chain: Uint8Array[] = [], index = 7): CtEntry {
  return { index, timestamp: 0, type: 'x509', leaf, chain };
}

function render(der: Uint8Array, log: LogDescriptor = RFC6962_LOG) {
  const frames = new Renderer().render(log, entry(der), 1730205715.758093);
  // Every frame is valid JSON and survives a UTF-8 round trip (what goes on the wire).
  for (const f of [frames.lite, frames.full, frames.domains]) {
    assert.equal(Buffer.from(f, 'utf8').toString('utf8'), f);
    JSON.parse(f);
  }
  const leaf = (JSON.parse(frames.lite) as { data: { leaf_cert: Leaf } }).data.leaf_cert;
  return { frames, leaf };
}

const policies = (...infos: Bytes[]): Bytes => ext('2.5.29.32', seq(...infos));
const policy = (o: string, ...quals: Bytes[]): Bytes => (quals.length ? seq(oid(o), seq(...quals)) : seq(oid(o)));
const cps = (uri: string): Bytes => seq(oid('1.3.6.1.5.5.7.2.1'), ia5(uri));
const notice = (userNotice: Bytes): Bytes => seq(oid('1.3.6.1.5.5.7.2.2'), userNotice);

test('a v1 certificate without extensions renders with "extensions": {} (golden certs/v1_no_extensions.der)', () => {
  const der = readFileSync('test/fixtures/calidog-golden/certs/v1_no_extensions.der');
  const { leaf, frames } = render(der);
  assert.deepEqual(leaf.extensions, {});
  assert.ok(frames.lite.includes('"extensions":{}'));
  assert.equal(leaf.subject.aggregated, '/O=Only Org');
  assert.deepEqual(leaf.all_domains, []); // no CN, no SAN
  assert.match(leaf.fingerprint, /^([0-9A-F]{2}:){19}[0-9A-F]{2}$/);
});

test('a built v1 certificate (no version field, no extensions) renders too', () => {
  const { leaf } = render(buildCert({ subject: name(['2.5.4.3', utf8('v1.example')]) }));
  assert.deepEqual(leaf.extensions, {});
  assert.deepEqual(leaf.all_domains, ['v1.example']);
});

test('signature algorithms the original did not know render as readable, stable strings', () => {
  const sha256 = seq(oid('2.16.840.1.101.3.4.2.1'), nul());
  const pssParams = seq(ctx(0, true, sha256), ctx(1, true, seq(oid('1.2.840.113549.1.1.8'), sha256)), ctx(2, true, int('20')));
  const cases: [string, Bytes | null, string][] = [
    ['1.2.840.113549.1.1.10', pssParams, 'sha256, rsassa-pss'],
    ['1.2.840.113549.1.1.10', seq(), 'sha, rsassa-pss'],
    ['1.2.840.113549.1.1.10', null, 'sha, rsassa-pss'],
    ['1.2.840.113549.1.1.10', octet(), '1.2.840.113549.1.1.10'],
    ['1.3.101.112', null, 'none, eddsa'],
    ['1.3.101.113', null, 'none, eddsa'],
    ['1.2.840.113549.1.1.2', nul(), 'md2, rsa'],
    ['1.2.840.113549.1.1.4', nul(), 'md5, rsa'],
    ['1.2.840.113549.1.1.5', nul(), 'sha, rsa'],
    ['1.2.840.10045.4.3.3', null, 'sha384, ecdsa'],
    ['1.2.643.7.1.1.3.2', null, '1.2.643.7.1.1.3.2'],
    ['2.999.123456789012345678901234567890', null, '2.999.123456789012345678901234567890'],
  ];
  for (const [sigOid, sigParams, expected] of cases) {
    const { leaf } = render(buildCert({ version: 2, sigOid, sigParams, extensions: [] }));
    assert.equal(leaf.signature_algorithm, expected, sigOid);
  }
});

test('a user notice shorter than 8 bytes renders (the original crashed, issue #98)', () => {
  const empty = render(buildCert({ version: 2, extensions: [policies(policy('2.23.140.1.2.1', notice(seq())))] }));
  assert.equal(empty.leaf.extensions.certificatePolicies, 'Policy: 2.23.140.1.2.1\n  User Notice: ');
  const hi = render(buildCert({ version: 2, extensions: [policies(policy('2.23.140.1.2.1', notice(seq(utf8('Hi')))))] }));
  assert.equal(hi.leaf.extensions.certificatePolicies, 'Policy: 2.23.140.1.2.1\n  User Notice: Hi');
});

test('a user notice of 8 bytes or more keeps the original quirk: first 8 bytes cut, printable characters only', () => {
  const text = 'Relying parties: see https://example.org/cps';
  const { leaf } = render(buildCert({ version: 2, extensions: [policies(policy('1.2.3.4', notice(seq(utf8(text)))))] }));
  // 30 LL 0C LL = 4 header bytes, so 4 text characters are cut too.
  assert.equal(leaf.extensions.certificatePolicies, 'Policy: 1.2.3.4\n  User Notice: ' + text.slice(4));
  const bmpNotice = render(buildCert({ version: 2, extensions: [policies(policy('1.2.3.4', notice(seq(bmp('Only this text')))))] }));
  assert.equal(bmpNotice.leaf.extensions.certificatePolicies, 'Policy: 1.2.3.4\n  User Notice: ly this text');
});

test('a CPS longer than 127 bytes renders in full (the original raised)', () => {
  const uri = 'https://example.org/' + 'c'.repeat(200);
  const { leaf } = render(buildCert({ version: 2, extensions: [policies(policy('1.2.3.4', cps(uri)))] }));
  assert.equal(leaf.extensions.certificatePolicies, 'Policy: 1.2.3.4\n  CPS: ' + uri);
});

test('policy list algorithm: no-qualifier policies go to the front, a qualified policy replaces the list', () => {
  const { leaf } = render(
    buildCert({ version: 2, extensions: [policies(policy('1.1.1'), policy('1.2.2', cps('http://a')), policy('1.3.3'), policy('1.4.4'))] }),
  );
  assert.equal(leaf.extensions.certificatePolicies, 'Policy: 1.4.4\nPolicy: 1.3.3\nPolicy: 1.2.2\n  CPS: http://a');
  const unknownQualifier = render(
    buildCert({ version: 2, extensions: [policies(policy('1.5.5', seq(oid('1.2.3.99'), ia5('x')), cps('http://b')))] }),
  );
  assert.equal(unknownQualifier.leaf.extensions.certificatePolicies, 'Policy: 1.5.5\n  CPS: http://b');
});

test('invalid UTF-8 in a UTF8String becomes U+FFFD; the frame stays valid UTF-8 JSON', () => {
  const bad = Buffer.from([0x62, 0x61, 0x64, 0xff, 0xc3, 0x28, 0x2e, 0x6f, 0x72, 0x67]);
  const { leaf } = render(buildCert({ subject: name(['2.5.4.3', utf8(bad)], ['2.5.4.10', utf8(Buffer.from([0xed, 0xa0, 0x80]))]) }));
  assert.equal(leaf.subject.CN, 'bad\uFFFD\uFFFD(.org');
  assert.ok((leaf.subject.O ?? '').length > 0 && /^\uFFFD+$/.test(leaf.subject.O ?? ''));
  assert.deepEqual(leaf.all_domains, ['bad\uFFFD\uFFFD(.org']);
});

test('string types: Latin-1 for Printable/Teletex/IA5, "" for BMP/Universal, last repeated attribute wins', () => {
  const subject = name(
    ['2.5.4.6', printable('DE')],
    ['2.5.4.7', teletex('K\xf6ln')],
    ['2.5.4.11', utf8('first')],
    ['2.5.4.11', utf8('second')],
    ['2.5.4.3', bmp('bmp.example')],
    ['2.5.4.10', tlv(0x1c, [0, 0, 0, 0x41])],
    ['1.2.840.113549.1.9.1', ia5('a@b.example')],
    ['2.5.4.5', printable('dropped-serial')],
  );
  const { leaf } = render(buildCert({ subject }));
  assert.deepEqual(leaf.subject, {
    C: 'DE', CN: '', L: 'Köln', O: '', OU: 'second', ST: null,
    aggregated: '/C=DE/CN=/L=Köln/O=/OU=second/emailAddress=a@b.example', emailAddress: 'a@b.example',
  });
  assert.deepEqual(leaf.all_domains, ['']);
});

test('control characters, quotes and backslashes are escaped like Jason (uppercase \\u00XX)', () => {
  const { frames, leaf } = render(buildCert({ subject: name(['2.5.4.3', utf8('a"b\\c\u001b[0m\n')]) }));
  assert.equal(leaf.subject.CN, 'a"b\\c\u001b[0m\n');
  assert.ok(frames.lite.includes('"CN":"a\\"b\\\\c\\u001B[0m\\n"'));
  assert.equal(jsonString('\u0001\u001f\b\t\f\r/é'), '"\\u0001\\u001F\\b\\t\\f\\r/é"');
});

test('times: missing seconds, fractions, offsets, missing Z, GeneralizedTime, 50/49 pivot, no_expiration, garbage', () => {
  const cases: [Bytes, number | string | null][] = [
    [utcTime('250101000000Z'), 1735689600],
    [utcTime('2501010000Z'), 1735689600],
    [utcTime('250101000000+0200'), 1735689600],
    [utcTime('250101000000-0130'), 1735689600],
    [utcTime('250101000000'), 1735689600],
    [genTime('20250101000000.999Z'), 1735689600],
    [genTime('20250101000000,5Z'), 1735689600],
    [utcTime('500101000000Z'), -631152000],
    [utcTime('491231235959Z'), 2524607999],
    [genTime('19400101000000Z'), -946771200],
    [genTime('99991231235959Z'), 'no_expiration'],
    [utcTime('251301000000Z'), null],
    [utcTime('250230000000Z'), null],
    [utcTime('2501010000ZZ'), null],
    [utcTime('not a time!!'), null],
    [genTime('2025'), null],
    [printable('250101000000Z'), null],
  ];
  for (const [time, expected] of cases) {
    const { leaf } = render(buildCert({ notAfter: time }));
    assert.equal(leaf.not_after, expected, Buffer.from(time).toString('latin1'));
  }
  const year5 = render(buildCert({ notBefore: genTime('00050101000000Z') })).leaf.not_before;
  assert.equal(year5, -62009366400);
});

test('GeneralName types the original did not expect: CRL fullName dNSName/IP render, others are empty', () => {
  const dp = (...names: Bytes[]): Bytes => seq(ctx(0, true, ctx(0, true, ...names)));
  const { leaf } = render(
    buildCert({
      version: 2,
      extensions: [
        ext('2.5.29.31', seq(dp(gn.dns('crl.example'), gn.ip([10, 0, 0, 1]), gn.registeredId('1.2.3'), gn.uri('http://crl.example/c.crl')))),
      ],
    }),
  );
  assert.equal(leaf.extensions.crlDistributionPoints, 'Full Name:\n DNS:crl.example\n IP:10.0.0.1\n\n URI:http://crl.example/c.crl');
});

test('CRL distribution points: reasons/cRLIssuer/relative names are skipped, RFC 822 names shown', () => {
  const withReasons = seq(ctx(0, true, ctx(0, true, gn.uri('http://skipped'))), tlv(0x81, [0x06, 0x40]));
  const relative = seq(ctx(0, true, ctx(1, true, seq(oid('2.5.4.3'), utf8('x')))));
  const issuerOnly = seq(ctx(2, true, gn.uri('http://issuer')));
  const plain = seq(ctx(0, true, ctx(0, true, gn.email('crl@example.org'))));
  const { leaf } = render(buildCert({ version: 2, extensions: [ext('2.5.29.31', seq(withReasons, relative, issuerOnly, plain))] }));
  assert.equal(leaf.extensions.crlDistributionPoints, 'Full Name:\n RFC 822 Name: crl@example.org');
});

test('SAN: reverse order, odd GeneralName types skipped, IPv6 as 16 numbers, duplicates kept', () => {
  const san = ext(
    '2.5.29.17',
    seq(gn.dns('a.example'), gn.registeredId('1.2.3.4'), gn.x400(), gn.otherName(), gn.directory(name(['2.5.4.3', utf8('d')])),
      gn.ip([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]), gn.email('x@a.example'), gn.dns('a.example'), gn.dns('B.example')),
  );
  const { leaf } = render(buildCert({ version: 2, subject: name(['2.5.4.3', utf8('a.example')]), extensions: [san] }));
  assert.equal(
    leaf.extensions.subjectAltName,
    'DNS:B.example, DNS:a.example, RFC 822Name:x@a.example, IP:32.1.13.184.0.0.0.0.0.0.0.0.0.0.0.1, DNS:a.example',
  );
  assert.deepEqual(leaf.all_domains, ['B.example', 'a.example']);
});

test('a known extension with an undecodable value is listed in extra, like an unknown one', () => {
  const { leaf } = render(
    buildCert({
      version: 2,
      extensions: [ext('2.5.29.17', octet()), ext('1.2.3.4.5', nul()), ext('2.5.29.19', seq(bool(true))), ext('2.5.29.37', int('01'))],
    }),
  );
  assert.deepEqual(leaf.extensions, { basicConstraints: 'CA:TRUE', extra: ['2.5.29.37', '1.2.3.4.5', '2.5.29.17'] });
  assert.deepEqual(leaf.all_domains, ['example.org']);
});

test('extension details: AKI without keyIdentifier is omitted, AIA non-URI skipped, unknown method, key usage bits', () => {
  const aia = seq(
    seq(oid('1.3.6.1.5.5.7.48.1'), gn.uri('http://ocsp.example')),
    seq(oid('1.3.6.1.5.5.7.48.2'), gn.dns('not-a-uri.example')),
    seq(oid('1.2.3'), gn.uri('http://other.example')),
  );
  const { leaf } = render(
    buildCert({
      version: 2,
      extensions: [
        ext('1.3.6.1.5.5.7.1.1', aia),
        ext('2.5.29.35', seq(ctx(1, true, gn.dns('x')), tlv(0x82, [1]))),
        ext('2.5.29.15', bits([7, 0x80])),
        ext('2.5.29.19', seq()),
        ext('2.5.29.37', seq(oid('1.3.6.1.5.5.7.3.1'), oid('2.5.29.37.0'))),
        ext('1.3.6.1.4.1.11129.2.4.3', nul(), true),
      ],
    }),
  );
  assert.deepEqual(leaf.extensions, {
    authorityInfoAccess: ':http://other.example\nOCSP - URI:http://ocsp.example\n',
    basicConstraints: 'CA:FALSE',
    ctlPoisonByte: true,
    extendedKeyUsage: 'TLS Web server authentication, ',
    keyUsage: 'Digital Signature',
  });
});

test('serial numbers: leading zeros dropped, zero is "0", negative gets "-"', () => {
  assert.equal(render(buildCert({ serial: '00ff01' })).leaf.serial_number, 'FF01');
  assert.equal(render(buildCert({ serial: '00' })).leaf.serial_number, '0');
  assert.equal(render(buildCert({ serial: '0f' })).leaf.serial_number, 'F');
  assert.equal(render(buildCert({ serial: 'ff' })).leaf.serial_number, '-1');
  assert.equal(render(buildCert({ serial: '8000' })).leaf.serial_number, '-8000');
});

test('bytes that are not a certificate throw X509_ERR_NOT_A_CERT, nothing else', () => {
  const inputs: Uint8Array[] = [
    new Uint8Array(0),
    Buffer.from('not a certificate'),
    seq(int('01'), int('02')),
    seq(seq(int('01'))),
    buildCert().subarray(0, 40),
    seq(seq(int('01'), seq(oid('1.2.840.10045.4.3.2')), name(), seq(utcTime('250101000000Z'), utcTime('260101000000Z')), name())),
  ];
  for (const bytes of inputs) {
    assert.throws(
      () => new Renderer().render(RFC6962_LOG, entry(bytes), 1),
      (err: unknown) => err instanceof CertstreamError && err.code === 'X509_ERR_NOT_A_CERT',
    );
  }
});

test('a chain certificate that is not a certificate keeps its place as a placeholder; the leaf still renders', () => {
  const garbage = Buffer.from('garbage chain bytes');
  const good = buildCert({ subject: name(['2.5.4.3', utf8('Intermediate')]) });
  const frames = new Renderer().render(RFC6962_LOG, entry(buildCert(), [garbage, good]), 1730205715.5);
  const full = JSON.parse(frames.full) as { data: { chain: Leaf[] & { as_der: string }[] } };
  assert.equal(full.data.chain.length, 2);
  assert.equal(full.data.chain[0].as_der, garbage.toString('base64'));
  assert.equal(full.data.chain[0].serial_number, null);
  assert.deepEqual(full.data.chain[0].extensions, {});
  assert.equal(full.data.chain[1].subject.CN, 'Intermediate');
});

test('all_domains: CN ∪ DNS SANs, exact-string dedupe, byte-wise order (code points, not UTF-16 units)', () => {
  const san = ext('2.5.29.17', seq(gn.dns('b.example'), gn.dns('*.b.example'), gn.dns('B.example'), gn.dns('b.example')));
  const { leaf } = render(buildCert({ version: 2, subject: name(['2.5.4.3', utf8('\u{1F600}.example')], ['2.5.4.3', utf8('\uFF41.example')]), extensions: [san] }));
  assert.deepEqual(leaf.all_domains, ['*.b.example', 'B.example', 'b.example', '\uFF41.example']);
  const emoji = render(buildCert({ version: 2, subject: name(['2.5.4.3', utf8('\u{1F600}.example')]), extensions: [ext('2.5.29.17', seq(gn.dns('\xff.x')))] }));
  // U+1F600 (F0 9F 98 80) sorts after U+00FF (C3 BF) byte-wise; JS's default sort would agree here, but not for U+FFxx.
  assert.deepEqual(emoji.leaf.all_domains, ['\xff.x', '\u{1F600}.example']);
  const mixed = render(buildCert({ version: 2, subject: name(['2.5.4.3', utf8('\u{1F600}')]), extensions: [ext('2.5.29.17', seq(tlv(0x82, Buffer.from('\uFF41', 'utf8'))))] }));
  // SAN dNSName bytes EF BD 81 read as Latin-1 ("ï½\x81"), CN U+1F600: byte order puts C3.. (ï) before F0...
  assert.deepEqual(mixed.leaf.all_domains, ['\xef\xbd\x81', '\u{1F600}']);
  assert.deepEqual(render(buildCert({ subject: name(['2.5.4.10', utf8('no cn')]) })).leaf.all_domains, []);
});

test('cert_link: RFC 6962 get-entries URL; static-ct-api: the data tile URL holding the entry', () => {
  const der = buildCert();
  const r = new Renderer();
  const a = JSON.parse(r.render(RFC6962_LOG, entry(der, [], 1111014090), 1).lite) as { data: { cert_link: string; source: unknown } };
  assert.equal(a.data.cert_link, 'https://ct.googleapis.com/logs/us1/argon2026h2/ct/v1/get-entries?start=1111014090&end=1111014090');
  assert.deepEqual(a.data.source, { name: RFC6962_LOG.name, url: RFC6962_LOG.url });
  const b = JSON.parse(r.render(STATIC_LOG, entry(der, [], 70000), 1).lite) as { data: { cert_link: string; source: unknown } };
  assert.equal(b.data.cert_link, 'https://navigli2025h2.skylight.geomys.org/tile/data/273');
  assert.deepEqual(b.data.source, { name: STATIC_LOG.name, url: STATIC_LOG.url });
});

test('update_type follows the entry type; lite has neither chain nor as_der; dns frame = all_domains', () => {
  const der = buildCert({ version: 2, extensions: [ext('2.5.29.17', seq(gn.dns('www.example.org')))] });
  const r = new Renderer();
  const pre = r.render(RFC6962_LOG, { ...entry(der, [der]), type: 'precert' }, 1);
  const lite = JSON.parse(pre.lite) as { data: Record<string, unknown> & { leaf_cert: Record<string, unknown> } };
  assert.equal(lite.data.update_type, 'PrecertLogEntry');
  assert.equal('chain' in lite.data, false);
  assert.equal('as_der' in lite.data.leaf_cert, false);
  const full = JSON.parse(pre.full) as { data: { chain: unknown[]; leaf_cert: { as_der: string } } };
  assert.equal(full.data.chain.length, 1);
  assert.equal(full.data.leaf_cert.as_der, der.toString('base64'));
  assert.equal(pre.domains, '{"data":["example.org","www.example.org"],"message_type":"dns_entries"}');
  assert.equal((JSON.parse(r.render(RFC6962_LOG, entry(der), 1).lite) as { data: { update_type: string } }).data.update_type, 'X509LogEntry');
});

test('seen uses Erlang float formatting', () => {
  assert.equal(erlangFloat(1730205715.758093), '1730205715.758093');
  assert.equal(erlangFloat(1730205716.5), '1730205716.5');
  assert.equal(erlangFloat(1730205715), '1730205715.0');
  assert.equal(erlangFloat(1730205710), '1730205710.0');
  assert.equal(erlangFloat(1730205700), '1.7302057e9');
  assert.equal(erlangFloat(0.001), '0.001');
  assert.equal(erlangFloat(1e-7), '1.0e-7');
  assert.equal(erlangFloat(0), '0.0');
  const frames = new Renderer().render(RFC6962_LOG, entry(buildCert()), 1730205700);
  assert.ok(frames.lite.includes('"seen":1.7302057e9,'));
});

test('the chain cache is an LRU bounded by chainCacheSize', () => {
  const r = new Renderer({ chainCacheSize: 2 });
  const chain = [1, 2, 3].map((i) => buildCert({ serial: `0${i}`, signature: [i, i, i] }));
  r.render(RFC6962_LOG, entry(buildCert(), chain), 1);
  assert.equal(r.cachedChainCerts, 2);
  assert.throws(() => new Renderer({ chainCacheSize: -1 }), RangeError);
  const none = new Renderer({ chainCacheSize: 0 });
  none.render(RFC6962_LOG, entry(buildCert(), chain), 1);
  assert.equal(none.cachedChainCerts, 0);
});

test('chain certificates that share their last bytes and length are still told apart (exact-bytes check)', () => {
  const r = new Renderer();
  const chain = ['01', '02', '03'].map((serial) => buildCert({ serial, subject: name(['2.5.4.3', utf8(`CA ${serial}`)]) }));
  for (let round = 0; round < 2; round++) {
    const full = JSON.parse(r.render(RFC6962_LOG, entry(buildCert(), chain), 1).full) as { data: { chain: Leaf[] } };
    assert.deepEqual(full.data.chain.map((c) => c.serial_number), ['1', '2', '3']);
    assert.deepEqual(full.data.chain.map((c) => c.subject.CN), ['CA 01', 'CA 02', 'CA 03']);
  }
});

test('a name broken part-way keeps the attributes before the break; the certificate still renders', () => {
  const broken = seq(set(seq(oid('2.5.4.6'), printable('NL'))), octet(), set(seq(oid('2.5.4.3'), utf8('lost'))));
  const { leaf } = render(buildCert({ issuer: broken, subject: seq(tlv(0x02, [1])) }));
  assert.equal(leaf.issuer.C, 'NL');
  assert.equal(leaf.issuer.CN, null);
  assert.equal(leaf.issuer.aggregated, '/C=NL');
  assert.equal(leaf.subject.aggregated, '/');
  assert.deepEqual(leaf.all_domains, []);
});

test('CRL-DP and policy list algorithms match EasySSL step by step for 1–7 entries (linear-time versions)', () => {
  for (let k = 1; k <= 7; k++) {
    const uris = Array.from({ length: k }, (_, i) => `http://crl${i}.example/c.crl`);
    let acc: string[] = [];
    for (const u of uris) acc = [` URI:${u}`, 'Full Name:', ...acc].reverse();
    const dps = uris.map((u) => seq(ctx(0, true, ctx(0, true, gn.uri(u)))));
    const { leaf } = render(buildCert({ version: 2, extensions: [ext('2.5.29.31', seq(...dps))] }));
    assert.equal(leaf.extensions.crlDistributionPoints, acc.join('\n'), `${k} points`);
  }
  const shapes = ['PPQP', 'QPPQ', 'PQ', 'QP', 'PPP', 'QQ', 'PQPQPP'];
  for (const shape of shapes) {
    let list: string[] = [];
    const infos: Bytes[] = [];
    [...shape].forEach((kind, i) => {
      const o = `1.2.${i + 1}`;
      if (kind === 'P') {
        list = [`Policy: ${o}`, ...list];
        infos.push(policy(o));
      } else {
        list = [`Policy: ${o}`, `  CPS: http://cps${i}`];
        infos.push(policy(o, cps(`http://cps${i}`)));
      }
    });
    const { leaf } = render(buildCert({ version: 2, extensions: [policies(...infos)] }));
    assert.equal(leaf.extensions.certificatePolicies, list.join('\n'), shape);
  }
});
