/**
 * X.501 Name (RFC 5280 §4.1.2.4) to certstream's subject/issuer fields. Only seven attributes are read
 * (C, CN, L, O, OU, ST, emailAddress); for a repeated attribute the last one in DER order wins; every other
 * attribute is dropped. See strings.ts for how values are decoded.
 */
import { TAG, expectTlv, readTlv } from './der.js';
import { oidKeyOf } from './oid.js';
import { directoryString } from './strings.js';

/** The seven attributes certstream shows; null when the name does not have it. */
export interface NameFields {
  C: string | null;
  CN: string | null;
  L: string | null;
  O: string | null;
  OU: string | null;
  ST: string | null;
  emailAddress: string | null;
}

type Key = keyof NameFields;

const ATTRIBUTES = new Map<string, Key>([
  [oidKeyOf('2.5.4.3'), 'CN'],
  [oidKeyOf('2.5.4.6'), 'C'],
  [oidKeyOf('2.5.4.7'), 'L'],
  [oidKeyOf('2.5.4.8'), 'ST'],
  [oidKeyOf('2.5.4.10'), 'O'],
  [oidKeyOf('2.5.4.11'), 'OU'],
  [oidKeyOf('1.2.840.113549.1.9.1'), 'emailAddress'],
]);

/** A NameFields with every attribute null. */
export function emptyName(): NameFields {
  return { C: null, CN: null, L: null, O: null, OU: null, ST: null, emailAddress: null };
}

/** Looks up a 2.5.4.x / emailAddress attribute from its OID content bytes without allocating. */
function attributeOf(buf: Uint8Array, start: number, end: number): Key | undefined {
  const n = end - start;
  // Fast path for the id-at arc 2.5.4.x (bytes 55 04 xx).
  if (n === 3 && buf[start] === 0x55 && buf[start + 1] === 0x04) {
    switch (buf[start + 2]) {
      case 3: return 'CN';
      case 6: return 'C';
      case 7: return 'L';
      case 8: return 'ST';
      case 10: return 'O';
      case 11: return 'OU';
      default: return undefined;
    }
  }
  if (n !== 9) return undefined;
  let key = '';
  for (let i = start; i < end; i++) key += String.fromCharCode(buf[i]);
  return ATTRIBUTES.get(key);
}

/**
 * Decodes the Name whose SEQUENCE value is `buf[start, end)`. Never throws: when the RDN structure is
 * broken part-way, the attributes read before the break are kept (a damaged name is still shown).
 */
export function decodeName(buf: Buffer, start: number, end: number): NameFields {
  const out = emptyName();
  try {
    readInto(out, buf, start, end);
  } catch {
    // keep what was read
  }
  return out;
}

function readInto(out: NameFields, buf: Buffer, start: number, end: number): void {
  let pos = start;
  while (pos < end) {
    const rdn = expectTlv(buf, pos, end, TAG.SET, 'RelativeDistinguishedName');
    pos = rdn.end;
    let p = rdn.start;
    while (p < rdn.end) {
      const atv = expectTlv(buf, p, rdn.end, TAG.SEQUENCE, 'AttributeTypeAndValue');
      p = atv.end;
      const type = expectTlv(buf, atv.start, atv.end, TAG.OID, 'attribute type');
      const key = attributeOf(buf, type.start, type.end);
      if (key === undefined) continue;
      const value = readTlv(buf, type.end, atv.end);
      const text = directoryString(buf, value.tag, value.start, value.end);
      if (text !== null) out[key] = text;
    }
  }
}
