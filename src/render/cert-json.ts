/**
 * One certificate as certstream's `<cert>` JSON object (wire-format.md §2.2–2.6), split so the renderer
 * can assemble the leaf (with `all_domains`, with or without `as_der`) and chain entries (with `as_der`)
 * from the same pieces without serializing twice.
 */
import { hash } from 'node:crypto';
import { CertstreamError } from '../errors.js';
import { type ParsedCertificate, asBuffer, parseCertificate } from '../x509/certificate.js';
import type { NameFields } from '../x509/name.js';
import { serialToHex } from '../x509/serial.js';
import { signatureAlgorithmName } from '../x509/signature-algorithm.js';
import type { ValidityTime } from '../x509/time.js';
import { renderExtensions } from './extensions.js';
import { jsonNullableString, jsonString } from './json.js';

/** The pieces of a rendered certificate. */
export interface RenderedCert {
  /** `"extensions":…,"subject":{…}}` — every key after `as_der`, with the closing brace. */
  readonly body: string;
  /** `"as_der":"<base64>",` including the trailing comma. */
  readonly asDerField: string;
  /** all_domains of this certificate (subject CN ∪ SAN dNSNames), sorted byte-wise, unique. */
  readonly allDomains: readonly string[];
  /** SHA-1 fingerprint, uppercase colon hex. */
  readonly fingerprint: string;
}

/** `{"C":…,"CN":…,"L":…,"O":…,"OU":…,"ST":…,"aggregated":…,"emailAddress":…}` */
export function nameJson(n: NameFields): string {
  // aggregated: "/" + K=V for the non-null values in key order C, CN, L, O, OU, ST, emailAddress.
  let agg = '';
  if (n.C !== null) agg += '/C=' + n.C;
  if (n.CN !== null) agg += '/CN=' + n.CN;
  if (n.L !== null) agg += '/L=' + n.L;
  if (n.O !== null) agg += '/O=' + n.O;
  if (n.OU !== null) agg += '/OU=' + n.OU;
  if (n.ST !== null) agg += '/ST=' + n.ST;
  if (n.emailAddress !== null) agg += '/emailAddress=' + n.emailAddress;
  if (agg === '') agg = '/';
  return (
    '{"C":' + jsonNullableString(n.C) +
    ',"CN":' + jsonNullableString(n.CN) +
    ',"L":' + jsonNullableString(n.L) +
    ',"O":' + jsonNullableString(n.O) +
    ',"OU":' + jsonNullableString(n.OU) +
    ',"ST":' + jsonNullableString(n.ST) +
    ',"aggregated":' + jsonString(agg) +
    ',"emailAddress":' + jsonNullableString(n.emailAddress) + '}'
  );
}

function timeJson(t: ValidityTime): string {
  if (t === null) return 'null';
  return t === 'no_expiration' ? '"no_expiration"' : String(t);
}

/** Byte-wise UTF-8 order, which is code point order (JS `<` compares UTF-16 units, which differs above U+FFFF). */
export function compareUtf8(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(j)!;
    if (x !== y) return x - y;
    i += x > 0xffff ? 2 : 1;
    j += y > 0xffff ? 2 : 1;
  }
  return a.length - i - (b.length - j);
}

const SURROGATE = /[\ud800-\udfff]/;

/** Unique names, sorted byte-wise (Elixir MapSet order for ≤ 32 names; we use it for every size). */
export function allDomainsOf(cn: string | null, dnsNames: readonly string[]): string[] {
  if (dnsNames.length === 0) return cn === null ? [] : [cn];
  const set = new Set<string>(dnsNames);
  if (cn !== null) set.add(cn);
  const names = [...set];
  // Without surrogate pairs, UTF-16 unit order (the default sort) is code point order = UTF-8 byte order.
  let astral = false;
  for (const n of names) if (SURROGATE.test(n)) astral = true;
  return astral ? names.sort(compareUtf8) : names.sort();
}

/** SHA-1 of the DER as uppercase colon hex. */
export function sha1Fingerprint(der: Uint8Array): string {
  const hex = hash('sha1', der, 'hex').toUpperCase();
  let s = hex.slice(0, 2);
  for (let i = 2; i < hex.length; i += 2) s += ':' + hex.slice(i, i + 2);
  return s;
}

/** Renders a parsed certificate. */
export function renderParsed(cert: ParsedCertificate, fingerprint: string): RenderedCert {
  const ext = renderExtensions(cert);
  const body =
    '"extensions":' + ext.json +
    ',"fingerprint":"' + fingerprint +
    '","issuer":' + nameJson(cert.issuer) +
    ',"not_after":' + timeJson(cert.notAfter) +
    ',"not_before":' + timeJson(cert.notBefore) +
    ',"serial_number":"' + serialToHex(cert.der, cert.serialStart, cert.serialEnd) +
    '","signature_algorithm":' +
    jsonString(signatureAlgorithmName(cert.der, cert.sigOidStart, cert.sigOidEnd, cert.sigParamsStart, cert.sigParamsEnd)) +
    ',"subject":' + nameJson(cert.subject) + '}';
  return {
    body,
    asDerField: '"as_der":"' + cert.der.toString('base64') + '",',
    allDomains: allDomainsOf(cert.subject.CN, ext.dnsNames),
    fingerprint,
  };
}

const EMPTY_NAME_JSON = nameJson({ C: null, CN: null, L: null, O: null, OU: null, ST: null, emailAddress: null });

/**
 * Renders DER bytes as a certificate. Bytes that are not a certificate throw X509_ERR_NOT_A_CERT unless
 * `placeholder` is set: then (for chain entries) the object keeps `as_der` and `fingerprint` and has
 * `{}`/null everything else, so the chain keeps its length and order.
 */
export function renderDer(der: Uint8Array, placeholder = false): RenderedCert {
  const fingerprint = sha1Fingerprint(der);
  try {
    return renderParsed(parseCertificate(der), fingerprint);
  } catch (err) {
    if (!placeholder || !(err instanceof CertstreamError)) throw err;
    return {
      body:
        '"extensions":{},"fingerprint":"' + fingerprint + '","issuer":' + EMPTY_NAME_JSON +
        ',"not_after":null,"not_before":null,"serial_number":null,"signature_algorithm":null,"subject":' +
        EMPTY_NAME_JSON + '}',
      asDerField: '"as_der":"' + asBuffer(der).toString('base64') + '",',
      allDomains: [],
      fingerprint,
    };
  }
}
