/**
 * serialNumber INTEGER to certstream's text: Elixir `Integer.to_string(serial, 16)`, i.e. uppercase hex
 * without leading zeros and without separators ("FDB450C1942E3D30A18737063449E62"), "0" for zero, and a
 * "-" prefix for a negative serial (two's complement, allowed by lenient CAs).
 */

const HEX = '0123456789ABCDEF';

/** Uppercase hex of the INTEGER whose content bytes are `buf[start, end)` (end > start). */
export function serialToHex(buf: Uint8Array, start: number, end: number): string {
  if (buf[start] & 0x80) {
    let v = 0n;
    for (let i = start; i < end; i++) v = (v << 8n) | BigInt(buf[i]);
    v -= 1n << BigInt((end - start) * 8);
    return '-' + (-v).toString(16).toUpperCase();
  }
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
