/**
 * The TBS `signature` AlgorithmIdentifier to certstream's `signature_algorithm` text. Known algorithms
 * render as Erlang's `:public_key.pkix_sign_types/1` pair "<digest>, <alg>" ("sha256, rsa", "sha, ecdsa",
 * "none, eddsa"), exactly like the original server. Where the original crashed we render instead:
 * - RSASSA-PSS: "<digest>, rsassa-pss" with the digest from its parameters ("sha" when they name SHA-1
 *   or are absent, the RFC 4055 default); unreadable parameters give the dotted OID.
 * - md2WithRSAEncryption: "md2, rsa"; md4WithRSAEncryption: "md4, rsa".
 * - any other OID: its dotted form, e.g. "1.2.643.7.1.1.3.2" (stable and searchable).
 */
import { TAG, expectTlv, readTlv } from './der.js';
import { oidKey, oidKeyOf, oidToDotted } from './oid.js';

const NAMES = new Map<string, string>(
  (
    [
      ['1.2.840.113549.1.1.2', 'md2, rsa'],
      ['1.2.840.113549.1.1.3', 'md4, rsa'],
      ['1.2.840.113549.1.1.4', 'md5, rsa'],
      ['1.2.840.113549.1.1.5', 'sha, rsa'],
      ['1.3.14.3.2.29', 'sha, rsa'],
      ['1.2.840.113549.1.1.11', 'sha256, rsa'],
      ['1.2.840.113549.1.1.12', 'sha384, rsa'],
      ['1.2.840.113549.1.1.13', 'sha512, rsa'],
      ['1.2.840.113549.1.1.14', 'sha224, rsa'],
      ['1.2.840.10040.4.3', 'sha, dsa'],
      ['1.3.14.3.2.27', 'sha, dsa'],
      ['2.16.840.1.101.3.4.3.1', 'sha224, dsa'],
      ['2.16.840.1.101.3.4.3.2', 'sha256, dsa'],
      ['1.2.840.10045.4.1', 'sha, ecdsa'],
      ['1.2.840.10045.4.3.1', 'sha224, ecdsa'],
      ['1.2.840.10045.4.3.2', 'sha256, ecdsa'],
      ['1.2.840.10045.4.3.3', 'sha384, ecdsa'],
      ['1.2.840.10045.4.3.4', 'sha512, ecdsa'],
      ['1.3.101.112', 'none, eddsa'],
      ['1.3.101.113', 'none, eddsa'],
    ] as const
  ).map(([oid, name]) => [oidKeyOf(oid), name]),
);

const RSASSA_PSS = oidKeyOf('1.2.840.113549.1.1.10');

const DIGESTS = new Map<string, string>(
  (
    [
      ['1.3.14.3.2.26', 'sha'],
      ['2.16.840.1.101.3.4.2.4', 'sha224'],
      ['2.16.840.1.101.3.4.2.1', 'sha256'],
      ['2.16.840.1.101.3.4.2.2', 'sha384'],
      ['2.16.840.1.101.3.4.2.3', 'sha512'],
      ['2.16.840.1.101.3.4.2.5', 'sha512-224'],
      ['2.16.840.1.101.3.4.2.6', 'sha512-256'],
      ['2.16.840.1.101.3.4.2.7', 'sha3-224'],
      ['2.16.840.1.101.3.4.2.8', 'sha3-256'],
      ['2.16.840.1.101.3.4.2.9', 'sha3-384'],
      ['2.16.840.1.101.3.4.2.10', 'sha3-512'],
    ] as const
  ).map(([oid, name]) => [oidKeyOf(oid), name]),
);

/** RSASSA-PSS-params' hashAlgorithm name; "sha" when absent (SHA-1 default); null when unreadable. */
function pssDigest(buf: Uint8Array, paramsStart: number, paramsEnd: number): string | null {
  if (paramsStart < 0) return 'sha';
  const params = readTlv(buf, paramsStart, paramsEnd);
  if (params.tag === TAG.NULL) return 'sha';
  if (params.tag !== TAG.SEQUENCE) return null;
  if (params.start === params.end) return 'sha';
  const first = readTlv(buf, params.start, params.end);
  if (first.tag !== 0xa0) return 'sha'; // hashAlgorithm [0] absent → SHA-1
  const alg = expectTlv(buf, first.start, first.end, TAG.SEQUENCE, 'hashAlgorithm');
  const oid = expectTlv(buf, alg.start, alg.end, TAG.OID, 'hashAlgorithm OID');
  return DIGESTS.get(oidKey(buf, oid.start, oid.end)) ?? oidToDotted(buf, oid.start, oid.end);
}

/**
 * `signature_algorithm` for the AlgorithmIdentifier with OID content `buf[oidStart, oidEnd)` and
 * parameters TLV `buf[paramsStart, paramsEnd)` (paramsStart −1 when absent). Never throws for a
 * well-formed OID.
 */
export function signatureAlgorithmName(
  buf: Uint8Array,
  oidStart: number,
  oidEnd: number,
  paramsStart: number,
  paramsEnd: number,
): string {
  const key = oidKey(buf, oidStart, oidEnd);
  const known = NAMES.get(key);
  if (known !== undefined) return known;
  if (key === RSASSA_PSS) {
    try {
      const digest = pssDigest(buf, paramsStart, paramsEnd);
      if (digest !== null) return `${digest}, rsassa-pss`;
    } catch {
      // fall through to the dotted OID
    }
  }
  try {
    return oidToDotted(buf, oidStart, oidEnd);
  } catch {
    return '';
  }
}
