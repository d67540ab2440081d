/**
 * The `extensions` object of a certstream certificate, byte-compatible with EasySSL 1.3.0 (the original
 * server's renderer) including its quirks: reverse SAN/IAN/AIA order, trailing "\n" on AIA and AKI,
 * "C R L Sign", "" for unknown EKUs, the policy and CRL-DP list algorithms, URL-safe base64 SCTs and the
 * `extra` list of other OIDs in reverse order. wire-format.md §2.7 has the rules; the README's
 * "Wire format" section lists what we do where the original crashed:
 * - a known extension whose value cannot be decoded is listed in `extra` like an unknown one;
 * - SAN/IAN x400Address, ediPartyName and registeredID entries are skipped (like otherName);
 * - a CRL fullName dNSName renders " DNS:<name>", an iPAddress " IP:<bytes>", other types "";
 * - a user notice shorter than 8 bytes renders its explicitText (printable characters only);
 * - a CPS of any length renders its text (the original raised above 127 bytes);
 * - a policy qualifier with an unknown OID is skipped.
 */
import { TAG, expectTlv, readBoolean, readTlv } from '../x509/der.js';
import type { CertExtension, ParsedCertificate } from '../x509/certificate.js';
import { GN, type GeneralName, ipBytesToText, readGeneralNames } from '../x509/general-names.js';
import { dottedOf, oidKey, oidKeyOf } from '../x509/oid.js';
import { jsonString, jsonStringArray } from './json.js';
import { certificatePolicies, crlDistributionPoints } from './policies-crl.js';

const HEX_PAIRS: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).toUpperCase().padStart(2, '0'));

/** Uppercase hex bytes joined by ":" (fingerprints, key identifiers). */
export function colonHex(buf: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) s += (i === start ? '' : ':') + HEX_PAIRS[buf[i]];
  return s;
}

const enum Ext {
  AIA,
  SCT,
  POISON,
  SKI,
  KEY_USAGE,
  SAN,
  IAN,
  BASIC_CONSTRAINTS,
  CRL_DP,
  POLICIES,
  AKI,
  EKU,
}

const KNOWN = new Map<string, Ext>([
  [oidKeyOf('1.3.6.1.5.5.7.1.1'), Ext.AIA],
  [oidKeyOf('1.3.6.1.4.1.11129.2.4.2'), Ext.SCT],
  [oidKeyOf('1.3.6.1.4.1.11129.2.4.3'), Ext.POISON],
  [oidKeyOf('2.5.29.14'), Ext.SKI],
  [oidKeyOf('2.5.29.15'), Ext.KEY_USAGE],
  [oidKeyOf('2.5.29.17'), Ext.SAN],
  [oidKeyOf('2.5.29.18'), Ext.IAN],
  [oidKeyOf('2.5.29.19'), Ext.BASIC_CONSTRAINTS],
  [oidKeyOf('2.5.29.31'), Ext.CRL_DP],
  [oidKeyOf('2.5.29.32'), Ext.POLICIES],
  [oidKeyOf('2.5.29.35'), Ext.AKI],
  [oidKeyOf('2.5.29.37'), Ext.EKU],
]);

const EKU_NAMES = new Map<string, string>(
  (
    [
      ['1.3.6.1.5.5.7.3.1', 'TLS Web server authentication'],
      ['1.3.6.1.5.5.7.3.2', 'TLS Web client authentication'],
      ['1.3.6.1.5.5.7.3.3', 'Code signing'],
      ['1.3.6.1.5.5.7.3.4', 'E-mail protection'],
      ['1.3.6.1.5.5.7.3.8', 'Timestamping'],
      ['1.3.6.1.5.5.7.3.9', 'OCSPstamping'],
      ['1.3.6.1.5.5.7.3.5', 'IP security end system'],
      ['1.3.6.1.5.5.7.3.6', 'IP security tunnel termination'],
      ['1.3.6.1.5.5.7.3.7', 'IP security user'],
    ] as const
  ).map(([oid, name]) => [oidKeyOf(oid), name]),
);

const AIA_METHODS = new Map<string, string>([
  [oidKeyOf('1.3.6.1.5.5.7.48.1'), 'OCSP - URI'],
  [oidKeyOf('1.3.6.1.5.5.7.48.2'), 'CA Issuers - URI'],
]);

const KEY_USAGE_NAMES = [
  'Digital Signature',
  'Non Repudiation',
  'Key Encipherment',
  'Data Encipherment',
  'Key Agreement',
  'Key Cert Sign',
  'C R L Sign',
  'Encipher Only',
  'Decipher Only',
];


/** The rendered extensions object plus the dNSNames needed for all_domains. */
export interface RenderedExtensions {
  /** The JSON object text, keys in certstream's (alphabetical) order. */
  readonly json: string;
  /** Every SAN dNSName (Latin-1 decoded), in certificate order, over all SAN extensions. */
  readonly dnsNames: readonly string[];
}

/** An extension's OID for `extra` ("" if the OID itself is malformed). */
function extraOid(buf: Uint8Array, ext: CertExtension): string {
  try {
    return dottedOf(buf, ext.oidStart, ext.oidEnd);
  } catch {
    return '';
  }
}

/** Renders a SAN/IAN GeneralName list: reverse order, ", " separated. */
function altNames(buf: Buffer, names: readonly GeneralName[]): string {
  let out = '';
  let first = true;
  for (let i = names.length - 1; i >= 0; i--) {
    const n = names[i];
    let item: string;
    switch (n.type) {
      case GN.DNS_NAME: item = 'DNS:' + buf.toString('latin1', n.start, n.end); break;
      case GN.URI: item = 'URI:' + buf.toString('latin1', n.start, n.end); break;
      case GN.RFC822_NAME: item = 'RFC 822Name:' + buf.toString('latin1', n.start, n.end); break;
      case GN.IP_ADDRESS: item = 'IP:' + ipBytesToText(buf, n.start, n.end); break;
      default: continue;
    }
    out += (first ? '' : ', ') + item;
    first = false;
  }
  return out;
}

function authorityInfoAccess(buf: Buffer, start: number, end: number): string {
  const seq = expectTlv(buf, start, end, TAG.SEQUENCE, 'AuthorityInfoAccess');
  const entries: string[] = [];
  let pos = seq.start;
  while (pos < seq.end) {
    const ad = expectTlv(buf, pos, seq.end, TAG.SEQUENCE, 'AccessDescription');
    pos = ad.end;
    const method = expectTlv(buf, ad.start, ad.end, TAG.OID, 'accessMethod');
    const location = readTlv(buf, method.end, ad.end);
    if (location.tag !== 0x86) continue; // only URIs are shown
    const label = AIA_METHODS.get(oidKey(buf, method.start, method.end)) ?? '';
    entries.push(label + ':' + buf.toString('latin1', location.start, location.end));
  }
  entries.reverse();
  return entries.join('\n') + '\n';
}

function keyUsage(buf: Buffer, start: number, end: number): string {
  const bits = expectTlv(buf, start, end, TAG.BIT_STRING, 'KeyUsage');
  if (bits.end === bits.start) throw new RangeError('empty KeyUsage BIT STRING');
  const unused = buf[bits.start];
  const nbits = (bits.end - bits.start - 1) * 8 - unused;
  const names: string[] = [];
  for (let i = 0; i < KEY_USAGE_NAMES.length && i < nbits; i++) {
    if (buf[bits.start + 1 + (i >> 3)] & (0x80 >> (i & 7))) names.push(KEY_USAGE_NAMES[i]);
  }
  return names.join(', ');
}

function basicConstraints(buf: Buffer, start: number, end: number): string {
  const seq = expectTlv(buf, start, end, TAG.SEQUENCE, 'BasicConstraints');
  if (seq.start < seq.end) {
    const t = readTlv(buf, seq.start, seq.end);
    if (t.tag === TAG.BOOLEAN && readBoolean(buf, t)) return 'CA:TRUE';
  }
  return 'CA:FALSE';
}

function extendedKeyUsage(buf: Buffer, start: number, end: number): string {
  const seq = expectTlv(buf, start, end, TAG.SEQUENCE, 'ExtKeyUsageSyntax');
  let out = '';
  let pos = seq.start;
  let first = true;
  while (pos < seq.end) {
    const oid = expectTlv(buf, pos, seq.end, TAG.OID, 'KeyPurposeId');
    pos = oid.end;
    out += (first ? '' : ', ') + (EKU_NAMES.get(oidKey(buf, oid.start, oid.end)) ?? '');
    first = false;
  }
  return out;
}

function authorityKeyIdentifier(buf: Buffer, start: number, end: number): string | null {
  const seq = expectTlv(buf, start, end, TAG.SEQUENCE, 'AuthorityKeyIdentifier');
  let pos = seq.start;
  while (pos < seq.end) {
    const t = readTlv(buf, pos, seq.end);
    pos = t.end;
    if (t.tag === 0x80) return 'keyid:' + colonHex(buf, t.start, t.end) + '\n';
  }
  return null;
}

/** The OCTET STRING wrapped inside a subjectKeyIdentifier extnValue. */
function subjectKeyIdentifier(buf: Buffer, start: number, end: number): string {
  const os = expectTlv(buf, start, end, TAG.OCTET_STRING, 'SubjectKeyIdentifier');
  return colonHex(buf, os.start, os.end);
}

/** URL-safe base64 with padding (Elixir Base.url_encode64). */
function urlBase64(buf: Buffer, start: number, end: number): string {
  return buf.toString('base64', start, end).replace(/\+/g, '-').replace(/\//g, '_');
}

/**
 * Renders every extension of `cert`.
 * @returns the JSON object text and the SAN dNSNames
 */
export function renderExtensions(cert: ParsedCertificate): RenderedExtensions {
  const buf = cert.der;
  let aia: string | null = null;
  let aki: string | null = null;
  let bc: string | null = null;
  let policies: string | null = null;
  let crl: string | null = null;
  let poison = false;
  let sct: string | null = null;
  let eku: string | null = null;
  let extra: string[] | null = null;
  let ian: string | null = null;
  let ku: string | null = null;
  let san: string | null = null;
  let ski: string | null = null;
  const dnsNames: string[] = [];

  for (const ext of cert.extensions) {
    const kind = KNOWN.get(oidKey(buf, ext.oidStart, ext.oidEnd));
    if (kind === undefined) {
      (extra ??= []).push(extraOid(buf, ext));
      continue;
    }
    const s = ext.valueStart;
    const e = ext.valueEnd;
    try {
      switch (kind) {
        case Ext.AIA: aia = authorityInfoAccess(buf, s, e); break;
        case Ext.SCT: sct = urlBase64(buf, s, e); break;
        case Ext.POISON: poison = true; break;
        case Ext.SKI: ski = subjectKeyIdentifier(buf, s, e); break;
        case Ext.KEY_USAGE: ku = keyUsage(buf, s, e); break;
        case Ext.SAN: {
          const names = readGeneralNames(buf, s, e);
          san = altNames(buf, names);
          for (const n of names) if (n.type === GN.DNS_NAME) dnsNames.push(buf.toString('latin1', n.start, n.end));
          break;
        }
        case Ext.IAN: ian = altNames(buf, readGeneralNames(buf, s, e)); break;
        case Ext.BASIC_CONSTRAINTS: bc = basicConstraints(buf, s, e); break;
        case Ext.CRL_DP: crl = crlDistributionPoints(buf, s, e); break;
        case Ext.POLICIES: policies = certificatePolicies(buf, s, e); break;
        case Ext.AKI: {
          const v = authorityKeyIdentifier(buf, s, e);
          if (v !== null) aki = v;
          break;
        }
        case Ext.EKU: eku = extendedKeyUsage(buf, s, e); break;
      }
    } catch {
      // Undecodable value of a known extension: shown like an unknown extension.
      (extra ??= []).push(extraOid(buf, ext));
    }
  }

  // Keys in certstream's order; every member is written with a leading ",", the first one is cut below.
  let json = '';
  if (aia !== null) json += ',"authorityInfoAccess":' + jsonString(aia);
  if (aki !== null) json += ',"authorityKeyIdentifier":"' + aki.slice(0, -1) + '\\n"'; // hex + newline
  if (bc !== null) json += ',"basicConstraints":"' + bc + '"';
  if (policies !== null) json += ',"certificatePolicies":' + jsonString(policies);
  if (crl !== null) json += ',"crlDistributionPoints":' + jsonString(crl);
  if (poison) json += ',"ctlPoisonByte":true';
  if (sct !== null) json += ',"ctlSignedCertificateTimestamp":"' + sct + '"'; // base64: nothing to escape
  if (eku !== null) json += ',"extendedKeyUsage":"' + eku + '"'; // fixed names
  if (extra !== null) json += ',"extra":' + jsonStringArray(extra.reverse()); // reverse order of appearance
  if (ian !== null) json += ',"issuerAltName":' + jsonString(ian);
  if (ku !== null) json += ',"keyUsage":"' + ku + '"'; // fixed names
  if (san !== null) json += ',"subjectAltName":' + jsonString(san);
  if (ski !== null) json += ',"subjectKeyIdentifier":"' + ski + '"'; // hex
  return { json: json === '' ? '{}' : '{' + json.slice(1) + '}', dnsNames };
}
