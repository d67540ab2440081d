/**
 * The two list-building extension renderings of EasySSL, certificatePolicies and crlDistributionPoints
 * (wire-format.md §2.7 algorithms A and B), in linear time, plus the user-notice and CPS qualifier text.
 * Where the original raised we render: a user notice under 8 bytes shows its explicitText, a CPS of any
 * length shows its text, an unknown qualifier is skipped, a CRL fullName dNSName/iPAddress is shown.
 */
import { TAG, expectTlv, readTlv } from '../x509/der.js';
import { GN, ipBytesToText, readGeneralNameList } from '../x509/general-names.js';
import { dottedOf, oidKey, oidKeyOf } from '../x509/oid.js';
import { directoryString } from '../x509/strings.js';
import { printableText } from './printable.js';

const QUALIFIER_CPS = oidKeyOf('1.3.6.1.5.5.7.2.1');
const QUALIFIER_USER_NOTICE = oidKeyOf('1.3.6.1.5.5.7.2.2');

/** crlDistributionPoints text (algorithm B). */
export function crlDistributionPoints(buf: Buffer, start: number, end: number): string {
  const seq = expectTlv(buf, start, end, TAG.SEQUENCE, 'CRLDistributionPoints');
  // EasySSL: acc ← reverse([s, "Full Name:"] ++ acc) per point. Done in linear time with a double-ended
  // list held as `front` (stored reversed) + `back`, and a flag telling whether the logical list is reversed.
  const front: string[] = [];
  const back: string[] = [];
  let reversed = false;
  let pos = seq.start;
  while (pos < seq.end) {
    const dp = expectTlv(buf, pos, seq.end, TAG.SEQUENCE, 'DistributionPoint');
    pos = dp.end;
    let fullName: { start: number; end: number } | null = null;
    let other = false;
    let p = dp.start;
    while (p < dp.end) {
      const t = readTlv(buf, p, dp.end);
      p = t.end;
      if (t.tag === 0xa0) {
        const name = readTlv(buf, t.start, t.end);
        if (name.tag === 0xa0) fullName = { start: name.start, end: name.end };
        else other = true;
      } else {
        other = true; // reasons [1] or cRLIssuer [2]
      }
    }
    if (fullName === null || other) continue; // shapes the original did not render are skipped
    const parts: string[] = [];
    for (const n of readGeneralNameList(buf, fullName.start, fullName.end)) {
      switch (n.type) {
        case GN.URI: parts.push(' URI:' + buf.toString('latin1', n.start, n.end)); break;
        case GN.RFC822_NAME: parts.push(' RFC 822 Name: ' + buf.toString('latin1', n.start, n.end)); break;
        case GN.DNS_NAME: parts.push(' DNS:' + buf.toString('latin1', n.start, n.end)); break;
        case GN.IP_ADDRESS: parts.push(' IP:' + ipBytesToText(buf, n.start, n.end)); break;
        default: parts.push(''); // directoryName (as the original) and every other type
      }
    }
    const s = parts.join('\n');
    if (reversed) back.push('Full Name:', s); // logical prepend = physical append when reversed
    else front.push('Full Name:', s);
    reversed = !reversed;
  }
  const list = front.reverse().concat(back);
  return (reversed ? list.reverse() : list).join('\n');
}

/** UserNotice text: the qualifier DER minus its first 8 bytes, printable characters only (EasySSL). */
function userNotice(buf: Buffer, start: number, end: number): string {
  if (end - start >= 8) return printableText(buf, start + 8, end);
  // Shorter than 8 bytes (the original crashed): show the explicitText, if any.
  const seq = readTlv(buf, start, end);
  let text = '';
  let pos = seq.start;
  while (pos < seq.end) {
    const t = readTlv(buf, pos, seq.end);
    pos = t.end;
    const s = directoryString(buf, t.tag, t.start, t.end);
    if (s !== null) text = printableText(Buffer.from(s, 'utf8'), 0, Buffer.byteLength(s, 'utf8'));
  }
  return text;
}

/** certificatePolicies text (algorithm A). */
export function certificatePolicies(buf: Buffer, start: number, end: number): string {
  const seq = expectTlv(buf, start, end, TAG.SEQUENCE, 'CertificatePolicies');
  // L = reverse(prepended) ++ base: policies without qualifiers are prepended, a qualified one replaces L.
  let prepended: string[] = [];
  let base: string[] = [];
  let pos = seq.start;
  while (pos < seq.end) {
    const info = expectTlv(buf, pos, seq.end, TAG.SEQUENCE, 'PolicyInformation');
    pos = info.end;
    const oid = expectTlv(buf, info.start, info.end, TAG.OID, 'policyIdentifier');
    const policy = 'Policy: ' + dottedOf(buf, oid.start, oid.end);
    if (oid.end >= info.end) {
      prepended.push(policy);
      continue;
    }
    const quals = expectTlv(buf, oid.end, info.end, TAG.SEQUENCE, 'policyQualifiers');
    const message = [policy];
    let q = quals.start;
    while (q < quals.end) {
      const pq = expectTlv(buf, q, quals.end, TAG.SEQUENCE, 'PolicyQualifierInfo');
      q = pq.end;
      const qid = expectTlv(buf, pq.start, pq.end, TAG.OID, 'policyQualifierId');
      const key = oidKey(buf, qid.start, qid.end);
      if (qid.end >= pq.end) continue;
      if (key === QUALIFIER_CPS) {
        const v = readTlv(buf, qid.end, pq.end);
        message.push('  CPS: ' + buf.toString('utf8', v.start, v.end));
      } else if (key === QUALIFIER_USER_NOTICE) {
        message.push('  User Notice: ' + userNotice(buf, qid.end, pq.end));
      }
    }
    base = message;
    prepended = [];
  }
  return prepended.reverse().concat(base).join('\n');
}
