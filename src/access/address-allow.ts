/**
 * `--allow-from`: the CIDR list (IPv4 and IPv6, comma-separated) of peers the listener accepts. Checked
 * on the TCP connection, before any TLS or HTTP. Behind a reverse proxy the peer is the proxy.
 */
import { BlockList, isIP } from 'node:net';

export interface AddressAllowList {
  /** True when `address` (as in `socket.remoteAddress`) falls in one of the ranges. */
  allows(address: string | undefined): boolean;
}

/**
 * Parses `10.0.0.0/8,2001:db8::/32,192.0.2.7` (a bare address is a /32 or /128). Returns the list, or
 * the problem with the first bad item (without the flag name).
 */
export function parseAllowFrom(value: string): AddressAllowList | { error: string } {
  const list = new BlockList();
  const items = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (items.length === 0) return { error: 'names no address range' };
  for (const item of items) {
    const m = /^([^/]+)(?:\/(\d{1,3}))?$/.exec(item);
    const family = m ? isIP(m[1]) : 0;
    const bits = family === 4 ? 32 : 128;
    const prefix = m?.[2] === undefined ? bits : Number(m[2]);
    if (family === 0 || prefix > bits) return { error: `"${item}" is not an IPv4 or IPv6 address or CIDR range` };
    list.addSubnet(m![1], prefix, family === 4 ? 'ipv4' : 'ipv6');
  }
  return {
    allows(address) {
      if (address === undefined) return false;
      // A dual-stack listener (::) shows IPv4 peers as ::ffff:a.b.c.d; IPv4 ranges must still match them.
      const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
      if (v4 !== undefined && list.check(v4, 'ipv4')) return true;
      const family = isIP(address);
      return family !== 0 && list.check(address, family === 4 ? 'ipv4' : 'ipv6');
    },
  };
}
