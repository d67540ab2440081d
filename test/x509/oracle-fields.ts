// What the differential tests compare: the fields an independent decoder also reports, taken from OUR
// rendered output (the JSON the streams send), so the oracles check the real product, not an internal API.
import { renderExtensions } from '../../src/render/extensions.js';
import { renderDer } from '../../src/render/cert-json.js';
import { parseCertificate } from '../../src/x509/certificate.js';
import { TAG, children, expectTlv } from '../../src/x509/der.js';
import { oidToDotted } from '../../src/x509/oid.js';

export const NAME_KEYS = ['C', 'CN', 'L', 'O', 'OU', 'ST', 'emailAddress'] as const;
export type NameKey = (typeof NAME_KEYS)[number];

const OID_OF: Record<NameKey, string> = {
  C: '2.5.4.6',
  CN: '2.5.4.3',
  L: '2.5.4.7',
  O: '2.5.4.10',
  OU: '2.5.4.11',
  ST: '2.5.4.8',
  emailAddress: '1.2.840.113549.1.9.1',
};

export interface OurFields {
  subject: Record<NameKey, string | null>;
  issuer: Record<NameKey, string | null>;
  /** Attributes whose last occurrence is a BMPString/UniversalString: certstream renders them as "". */
  wideStringAttrs: { subject: Set<NameKey>; issuer: Set<NameKey> };
  /** Attributes whose last occurrence is a UTF8String with invalid UTF-8 (we render U+FFFD). */
  dnsNames: string[];
  serial: string;
  notBefore: number | string | null;
  notAfter: number | string | null;
  fingerprint: string;
  /** The raw validity strings (UTCTime/GeneralizedTime text). */
  rawNotBefore: string;
  rawNotAfter: string;
}

/** For each name key, the tag of its last occurrence in the Name at `[start, end)`. */
function lastTags(der: Buffer, start: number, end: number): Map<NameKey, number> {
  const out = new Map<NameKey, number>();
  for (const rdn of children(der, start, end)) {
    for (const atv of children(der, rdn.start, rdn.end)) {
      const [type, value] = children(der, atv.start, atv.end);
      const dotted = oidToDotted(der, type.start, type.end);
      const key = NAME_KEYS.find((k) => OID_OF[k] === dotted);
      if (key) out.set(key, value.tag);
    }
  }
  return out;
}

/** Our rendering of `der`, reduced to the oracle fields. */
export function ourFields(der: Uint8Array): OurFields {
  const r = renderDer(der);
  const leaf = JSON.parse('{' + r.body) as {
    subject: Record<NameKey, string | null>;
    issuer: Record<NameKey, string | null>;
    serial_number: string;
    not_before: number | string | null;
    not_after: number | string | null;
    fingerprint: string;
  };
  const cert = parseCertificate(der);
  const buf = cert.der;
  const c = expectTlv(buf, 0, buf.length, TAG.SEQUENCE, 'cert');
  const tbs = expectTlv(buf, c.start, c.end, TAG.SEQUENCE, 'tbs');
  const fields = children(buf, tbs.start, tbs.end);
  const off = fields[0].tag === 0xa0 ? 1 : 0;
  const issuerTlv = fields[off + 2];
  const [nb, na] = children(buf, fields[off + 3].start, fields[off + 3].end);
  const subjectTlv = fields[off + 4];
  const wide = (m: Map<NameKey, number>): Set<NameKey> =>
    new Set([...m].filter(([, tag]) => tag === TAG.BMP_STRING || tag === TAG.UNIVERSAL_STRING).map(([k]) => k));
  return {
    subject: leaf.subject,
    issuer: leaf.issuer,
    wideStringAttrs: { subject: wide(lastTags(buf, subjectTlv.start, subjectTlv.end)), issuer: wide(lastTags(buf, issuerTlv.start, issuerTlv.end)) },
    dnsNames: [...renderExtensions(cert).dnsNames],
    serial: leaf.serial_number,
    notBefore: leaf.not_before,
    notAfter: leaf.not_after,
    fingerprint: leaf.fingerprint,
    rawNotBefore: buf.toString('latin1', nb.start, nb.end),
    rawNotAfter: buf.toString('latin1', na.start, na.end),
  };
}

/** Seconds for a rendered time; "no_expiration" is 9999-12-31T23:59:59Z. */
export function seconds(t: number | string | null): number | null {
  if (t === 'no_expiration') return 253402300799;
  return typeof t === 'number' ? t : null;
}

/** Serial hex as certstream shows it (uppercase, no leading zeros) from any hex spelling. */
export function normalizeSerial(hex: string): string {
  const neg = hex.startsWith('-');
  const h = hex.replace(/^-/, '').replace(/[^0-9a-fA-F]/g, '').toUpperCase().replace(/^0+/, '');
  return (neg ? '-' : '') + (h === '' ? '0' : h);
}
