/**
 * serialNumber INTEGER to certstream's text: Elixir `Integer.to_string(serial, 16)`, i.e. uppercase hex
 * without leading zeros and without separators ("FDB450C1942E3D30A18737063449E62"), "0" for zero, and a
 * "-" prefix for a negative serial (two's complement, allowed by lenient CAs).
 */

const HEX = '0123456789ABCDEF';

/** Uppercase hex of the INTEGER whose content bytes are `buf[start, end)` (end > start). */
export function serialToHex(buf: Uint8Array, start: number, end: number): string {
  if (buf[start] & 0x80) {
    // Negative: the magnitude is the two's complement (invert, add one), computed byte-wise (linear time).
    const mag = new Uint8Array(end - start);
    let carry = 1;
    for (let i = end - 1; i >= start; i--) {
      const v = (~buf[i] & 0xff) + carry;
      mag[i - start] = v & 0xff;
      carry = v >> 8;
    }
    return '-' + unsignedHex(mag, 0, mag.length);
  }
  return unsignedHex(buf, start, end);
}

/** Uppercase hex of the unsigned big-endian bytes, without leading zeros ("0" for zero). */
function unsignedHex(buf: Uint8Array, start: number, end: number): string {
  let i = start;
  while (i < end && buf[i] === 0) i++;
  if (i === end) return '0';
  let s = '';
  const first = buf[i];
  if (first >= 16) s += HEX[first >> 4];
  s += HEX[first & 15];
  for (i++; i < end; i++) s += HEX[buf[i] >> 4] + HEX[buf[i] & 15];
  return s;
}
