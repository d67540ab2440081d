/**
 * The two forms a matched name is kept in (interface.md: "Names are stored in ASCII (punycode) form,
 * with the Unicode form beside it for display; no name can make a delivery fail to be built"), and the
 * escaping that makes any text safe for an HTTP header. Pure.
 *
 * A certificate may carry anything in a name: Unicode, control characters, NUL, a label that is not
 * valid IDNA. The ASCII form is total: a label that IDNA cannot encode is percent-escaped (UTF-8)
 * instead, so every name has an ASCII form and it is always printable ASCII.
 */
import { domainToASCII } from 'node:url';

/** Printable ASCII without space and `%` (the escape character itself). */
const PLAIN = /^[\x21-\x24\x26-\x7e]*$/;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** `s` with unpaired surrogates (which neither UTF-8 nor PostgreSQL can hold) replaced by U+FFFD. */
function wellFormed(s: string): string {
  return s.replace(LONE_SURROGATE, '\ufffd');
}

/** Percent-escapes (UTF-8) every character outside printable ASCII, and `%`, so that the result is injective. */
export function percentEscape(s: string): string {
  if (PLAIN.test(s)) return s;
  let out = '';
  for (const ch of s) {
    if (PLAIN.test(ch)) out += ch;
    else for (const b of Buffer.from(wellFormed(ch), 'utf8')) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * The ASCII form of a normalised name (see rules.ts `normaliseName`): ASCII labels as they are,
 * non-ASCII labels in IDNA punycode (`bücher` → `xn--bcher-kva`), and a label that cannot be
 * encoded (or holds control characters) percent-escaped. Only non-ASCII labels go through IDNA: an
 * ASCII name is never rewritten (IDNA would turn `0x7f.1` into an IPv4 address).
 */
export function asciiName(name: string): string {
  if (PLAIN.test(name)) return name;
  return name
    .split('.')
    .map((label) => {
      if (PLAIN.test(label)) return label;
      if (/^[\x20-\x7e]*$/.test(label)) return percentEscape(label);
      // eslint-disable-next-line no-control-regex
      const a = /[\x00-\x20%./\\]/.test(label) ? '' : domainToASCII(label);
      return a !== '' && PLAIN.test(a) && !a.includes('.') ? a : percentEscape(label);
    })
    .join('.');
}

/**
 * The display form of a normalised name: as decoded, with control characters (NUL included, which
 * PostgreSQL's TEXT cannot hold) and unpaired surrogates replaced by U+FFFD.
 */
export function displayName(name: string): string {
  // eslint-disable-next-line no-control-regex
  return wellFormed(name).replace(/[\x00-\x1f\x7f]/g, '\ufffd');
}

/** Any text made storable in PostgreSQL TEXT (no NUL, well-formed UTF-16). */
export function storableText(s: string): string {
  // eslint-disable-next-line no-control-regex
  return wellFormed(s).replace(/\x00/g, '\ufffd');
}
