/**
 * ASN.1 character strings to JS strings, with certstream's (EasySSL's) choices:
 * - PrintableString, TeletexString, IA5String and the other 8-bit string types are read byte by byte as
 *   Latin-1 (each byte becomes U+00XX). A T61 "K\xF6ln" reads "Köln"; UTF-8 bytes stored in such a string
 *   come out as mojibake, exactly like the original server.
 * - UTF8String is UTF-8; invalid sequences become U+FFFD (the original server lost the whole batch).
 * - BMPString and UniversalString become "" (the original's rendering, kept for byte compatibility).
 */
import { TAG } from './der.js';

/** Latin-1 text of `buf[start, end)`. */
export function latin1(buf: Buffer, start: number, end: number): string {
  return buf.toString('latin1', start, end);
}

/** UTF-8 text of `buf[start, end)`, invalid sequences replaced by U+FFFD. */
export function utf8(buf: Buffer, start: number, end: number): string {
  return buf.toString('utf8', start, end);
}

/**
 * Text of a string-typed attribute value with tag `tag`, or null when the tag is not a string type
 * (such values are ignored, as the original server did).
 */
export function directoryString(buf: Buffer, tag: number, start: number, end: number): string | null {
  switch (tag) {
    case TAG.UTF8_STRING:
      return buf.toString('utf8', start, end);
    case TAG.PRINTABLE_STRING:
    case TAG.TELETEX_STRING:
    case TAG.IA5_STRING:
    case TAG.NUMERIC_STRING:
    case TAG.VISIBLE_STRING:
    case TAG.VIDEOTEX_STRING:
    case TAG.GRAPHIC_STRING:
    case TAG.GENERAL_STRING:
      return buf.toString('latin1', start, end);
    case TAG.BMP_STRING:
    case TAG.UNIVERSAL_STRING:
      return '';
    default:
      return null;
  }
}
