/**
 * The X.509 Certificate skeleton (RFC 5280 §4.1) read straight from DER, for rendering. Pure and
 * allocation-light: names and times are decoded, everything else stays as offsets into the DER.
 *
 * What counts as "not a certificate at all" (CertstreamError X509_ERR_NOT_A_CERT): the outer SEQUENCE,
 * the TBSCertificate SEQUENCE or its fixed fields (version, serialNumber, signature, issuer, validity,
 * subject, subjectPublicKeyInfo) cannot be framed. Problems inside one field are not fatal: an unreadable
 * time becomes null, a name broken part-way keeps the attributes read before the break, an undecodable
 * extension value is handled by the renderer, and a broken extensions block keeps the extensions read
 * before the break (flagged in `extensionsError`).
 */
import { CertstreamError } from '../errors.js';
import { TAG, expectTlv, readBoolean, readTlv } from './der.js';
import { type NameFields, decodeName } from './name.js';
import { type ValidityTime, decodeTime } from './time.js';

/** One extension: OID and value as ranges into `der`. */
export interface CertExtension {
  /** OID content bytes range. */
  readonly oidStart: number;
  readonly oidEnd: number;
  readonly critical: boolean;
  /** The extnValue OCTET STRING's contents. */
  readonly valueStart: number;
  readonly valueEnd: number;
}

/** A parsed certificate; offsets refer to `der`. */
export interface ParsedCertificate {
  readonly der: Buffer;
  /** 0 for v1, 1 for v2, 2 for v3 (the DER value; absent means v1). */
  readonly version: number;
  /** serialNumber INTEGER content bytes (two's complement). */
  readonly serialStart: number;
  readonly serialEnd: number;
  /** TBS `signature` AlgorithmIdentifier: OID content range and the parameters' TLV range (or -1). */
  readonly sigOidStart: number;
  readonly sigOidEnd: number;
  readonly sigParamsStart: number;
  readonly sigParamsEnd: number;
  readonly issuer: NameFields;
  readonly subject: NameFields;
  readonly notBefore: ValidityTime;
  readonly notAfter: ValidityTime;
  /** Extensions in DER order; empty for a certificate without an extensions block (v1/v2). */
  readonly extensions: readonly CertExtension[];
  /** Set when an extensions block exists but could not be read; `extensions` then holds what was read. */
  readonly extensionsError: string | null;
}

function notACert(message: string, cause?: unknown): CertstreamError {
  return new CertstreamError('X509_ERR_NOT_A_CERT', message, cause === undefined ? undefined : { cause });
}

/** Wraps a Uint8Array as a Buffer without copying. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function readExtensions(der: Buffer, start: number, end: number, out: CertExtension[]): void {
  // [3] EXPLICIT Extensions ::= SEQUENCE SIZE (1..MAX) OF Extension
  const seq = expectTlv(der, start, end, TAG.SEQUENCE, 'Extensions');
  let pos = seq.start;
  while (pos < seq.end) {
    const ext = expectTlv(der, pos, seq.end, TAG.SEQUENCE, 'Extension');
    pos = ext.end;
    const oid = expectTlv(der, ext.start, ext.end, TAG.OID, 'extnID');
    let next = readTlv(der, oid.end, ext.end);
    let critical = false;
    if (next.tag === TAG.BOOLEAN) {
      critical = readBoolean(der, next);
      next = readTlv(der, next.end, ext.end);
    }
    if (next.tag !== TAG.OCTET_STRING) {
      throw new CertstreamError('X509_ERR_BAD_DER', `extnValue is not an OCTET STRING at ${next.offset}`);
    }
    out.push({ oidStart: oid.start, oidEnd: oid.end, critical, valueStart: next.start, valueEnd: next.end });
  }
}

/**
 * Parses a DER certificate.
 * @param bytes the certificate DER (trailing bytes after the outer SEQUENCE are ignored)
 * @throws CertstreamError X509_ERR_NOT_A_CERT when the bytes are not a certificate at all
 */
export function parseCertificate(bytes: Uint8Array): ParsedCertificate {
  const der = asBuffer(bytes);
  try {
    const cert = expectTlv(der, 0, der.length, TAG.SEQUENCE, 'Certificate');
    const tbs = expectTlv(der, cert.start, cert.end, TAG.SEQUENCE, 'TBSCertificate');
    const end = tbs.end;
    let t = readTlv(der, tbs.start, end);
    let version = 0;
    if (t.tag === 0xa0) {
      const v = expectTlv(der, t.start, t.end, TAG.INTEGER, 'version');
      version = v.end - v.start === 1 ? der[v.start] : -1;
      t = readTlv(der, t.end, end);
    }
    if (t.tag !== TAG.INTEGER) throw notACert(`serialNumber is not an INTEGER (tag 0x${t.tag.toString(16)})`);
    if (t.end === t.start) throw notACert('empty serialNumber');
    const serial = t;
    const sig = expectTlv(der, serial.end, end, TAG.SEQUENCE, 'signature');
    const sigOid = expectTlv(der, sig.start, sig.end, TAG.OID, 'signature algorithm');
    let sigParamsStart = -1;
    let sigParamsEnd = -1;
    if (sigOid.end < sig.end) {
      const p = readTlv(der, sigOid.end, sig.end);
      sigParamsStart = p.offset;
      sigParamsEnd = p.end;
    }
    const issuerTlv = expectTlv(der, sig.end, end, TAG.SEQUENCE, 'issuer');
    const validity = expectTlv(der, issuerTlv.end, end, TAG.SEQUENCE, 'validity');
    let notBefore: ValidityTime = null;
    let notAfter: ValidityTime = null;
    try {
      const nb = readTlv(der, validity.start, validity.end);
      notBefore = decodeTime(der, nb.tag, nb.start, nb.end);
      const na = readTlv(der, nb.end, validity.end);
      notAfter = decodeTime(der, na.tag, na.start, na.end);
    } catch {
      // A damaged validity renders as null times.
    }
    const subjectTlv = expectTlv(der, validity.end, end, TAG.SEQUENCE, 'subject');
    const spki = expectTlv(der, subjectTlv.end, end, TAG.SEQUENCE, 'subjectPublicKeyInfo');
    const issuer = decodeName(der, issuerTlv.start, issuerTlv.end);
    const subject = decodeName(der, subjectTlv.start, subjectTlv.end);

    const extensions: CertExtension[] = [];
    let extensionsError: string | null = null;
    let pos = spki.end;
    try {
      while (pos < end) {
        t = readTlv(der, pos, end);
        pos = t.end;
        // [1] issuerUniqueID and [2] subjectUniqueID are skipped; [3] holds the extensions.
        if (t.tag === 0xa3) readExtensions(der, t.start, t.end, extensions);
      }
    } catch (err) {
      extensionsError = err instanceof Error ? err.message : String(err);
    }
    return {
      der,
      version,
      serialStart: serial.start,
      serialEnd: serial.end,
      sigOidStart: sigOid.start,
      sigOidEnd: sigOid.end,
      sigParamsStart,
      sigParamsEnd,
      issuer,
      subject,
      notBefore,
      notAfter,
      extensions,
      extensionsError,
    };
  } catch (err) {
    if (err instanceof CertstreamError && err.code === 'X509_ERR_NOT_A_CERT') throw err;
    throw notACert(`not a certificate: ${err instanceof Error ? err.message : String(err)}`, err);
  }
}
