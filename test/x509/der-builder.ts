// A tiny DER writer for hand-made certificates in tests (odd shapes the fixtures do not have). Signatures
// are dummies: nothing here verifies them, and the renderer never does either.
import { oidKeyOf } from '../../src/x509/oid.js';

export type Bytes = Uint8Array;

function lengthBytes(n: number): number[] {
  if (n < 0x80) return [n];
  const out: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff);
  return [0x80 | out.length, ...out];
}

/** A TLV with first identifier byte `tag` around the concatenated `parts`. */
export function tlv(tag: number, ...parts: (Bytes | number[] | string)[]): Bytes {
  const body = Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));
  return Buffer.concat([Buffer.from([tag, ...lengthBytes(body.length)]), body]);
}

export const seq = (...p: Bytes[]): Bytes => tlv(0x30, ...p);
export const set = (...p: Bytes[]): Bytes => tlv(0x31, ...p);
export const oid = (dotted: string): Bytes => tlv(0x06, oidKeyOf(dotted));
export const int = (hex: string): Bytes => tlv(0x02, Buffer.from(hex, 'hex'));
export const bool = (v: boolean): Bytes => tlv(0x01, [v ? 0xff : 0]);
export const nul = (): Bytes => tlv(0x05);
export const octet = (...p: Bytes[]): Bytes => tlv(0x04, ...p);
export const bits = (bytes: number[]): Bytes => tlv(0x03, bytes);
export const utf8 = (s: string | Bytes): Bytes => tlv(0x0c, typeof s === 'string' ? Buffer.from(s, 'utf8') : s);
export const printable = (s: string): Bytes => tlv(0x13, s);
export const ia5 = (s: string): Bytes => tlv(0x16, s);
export const teletex = (latin1: string): Bytes => tlv(0x14, latin1);
export const bmp = (s: string): Bytes => tlv(0x1e, Buffer.from(s, 'utf16le').swap16());
export const utcTime = (s: string): Bytes => tlv(0x17, s);
export const genTime = (s: string): Bytes => tlv(0x18, s);
/** Context-specific [n], primitive (implicit) or constructed. */
export const ctx = (n: number, constructed: boolean, ...p: Bytes[]): Bytes => tlv((constructed ? 0xa0 : 0x80) | n, ...p);

/** A Name from [oid, value-TLV] pairs, one RDN each. */
export function name(...attrs: [string, Bytes][]): Bytes {
  return seq(...attrs.map(([o, v]) => set(seq(oid(o), v))));
}

/** One Extension. */
export function ext(o: string, value: Bytes, critical = false): Bytes {
  return critical ? seq(oid(o), bool(true), octet(value)) : seq(oid(o), octet(value));
}

/** GeneralName helpers. */
export const gn = {
  dns: (s: string): Bytes => tlv(0x82, s),
  uri: (s: string): Bytes => tlv(0x86, s),
  email: (s: string): Bytes => tlv(0x81, s),
  ip: (bytes: number[]): Bytes => tlv(0x87, bytes),
  registeredId: (dotted: string): Bytes => tlv(0x88, oidKeyOf(dotted)),
  directory: (n: Bytes): Bytes => tlv(0xa4, n),
  otherName: (): Bytes => tlv(0xa0, oid('1.3.6.1.4.1.311.20.2.3'), tlv(0xa0, utf8('x@y'))),
  x400: (): Bytes => tlv(0xa3, seq()),
};

export interface CertSpec {
  /** DER version value (0 = v1, 2 = v3); omitted → field absent (v1). */
  version?: number;
  serial?: string;
  sigOid?: string;
  sigParams?: Bytes | null;
  issuer?: Bytes;
  subject?: Bytes;
  notBefore?: Bytes;
  notAfter?: Bytes;
  extensions?: Bytes[];
  /** signatureValue bytes (a dummy by default). */
  signature?: number[];
}

const SPKI = seq(seq(oid('1.2.840.10045.2.1'), oid('1.2.840.10045.3.1.7')), bits([0, 4, ...new Array<number>(64).fill(7)]));

/** A complete Certificate DER from `spec` with defaults for every missing field. */
export function buildCert(spec: CertSpec = {}): Buffer {
  const sigOid = spec.sigOid ?? '1.2.840.10045.4.3.2';
  const alg = spec.sigParams ? seq(oid(sigOid), spec.sigParams) : seq(oid(sigOid));
  const parts: Bytes[] = [];
  if (spec.version !== undefined) parts.push(ctx(0, true, int(spec.version.toString(16).padStart(2, '0'))));
  parts.push(
    int(spec.serial ?? '0a1b2c'),
    alg,
    spec.issuer ?? name(['2.5.4.6', printable('US')], ['2.5.4.3', utf8('Test CA')]),
    seq(spec.notBefore ?? utcTime('250101000000Z'), spec.notAfter ?? utcTime('260101000000Z')),
    spec.subject ?? name(['2.5.4.3', utf8('example.org')]),
    SPKI,
  );
  if (spec.extensions) parts.push(ctx(3, true, seq(...spec.extensions)));
  return Buffer.from(seq(seq(...parts), alg, bits([0, ...(spec.signature ?? [1, 2, 3])])));
}
