/**
 * GeneralNames (RFC 5280 §4.2.1.6): a SEQUENCE of context-tagged choices. Values stay as ranges; the
 * renderer decides how each type is shown.
 */
import { TAG, expectTlv, readTlv } from './der.js';

/** GeneralName choice numbers ([n] context tags). */
export const GN = {
  OTHER_NAME: 0,
  RFC822_NAME: 1,
  DNS_NAME: 2,
  X400_ADDRESS: 3,
  DIRECTORY_NAME: 4,
  EDI_PARTY_NAME: 5,
  URI: 6,
  IP_ADDRESS: 7,
  REGISTERED_ID: 8,
} as const;

/** One GeneralName: its choice number and the value range (the IMPLICIT/EXPLICIT contents). */
export interface GeneralName {
  readonly type: number;
  readonly start: number;
  readonly end: number;
}

/** Reads the GeneralName elements between `start` and `end` (the contents of a GeneralNames SEQUENCE). */
export function readGeneralNameList(buf: Uint8Array, start: number, end: number): GeneralName[] {
  const out: GeneralName[] = [];
  let pos = start;
  while (pos < end) {
    const t = readTlv(buf, pos, end);
    pos = t.end;
    // Only context-specific tags are GeneralNames; anything else is skipped.
    if ((t.tag & 0xc0) !== 0x80) continue;
    out.push({ type: t.tag & 0x1f, start: t.start, end: t.end });
  }
  return out;
}

/** Reads a GeneralNames SEQUENCE that is exactly `buf[start, end)`. */
export function readGeneralNames(buf: Uint8Array, start: number, end: number): GeneralName[] {
  const seq = expectTlv(buf, start, end, TAG.SEQUENCE, 'GeneralNames');
  return readGeneralNameList(buf, seq.start, seq.end);
}

/** IP address bytes as certstream shows them: every byte in decimal joined by "." (IPv6 gives 16 numbers). */
export function ipBytesToText(buf: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) s += (i === start ? '' : '.') + buf[i];
  return s;
}
