// --allow-from, pure: IPv4 and IPv6 ranges, bare addresses, IPv4 peers of a dual-stack listener.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAllowFrom, type AddressAllowList } from '../../src/access/address-allow.js';

function parsed(value: string): AddressAllowList {
  const list = parseAllowFrom(value);
  if ('error' in list) throw new Error(list.error);
  return list;
}

test('IPv4 and IPv6 CIDR ranges and bare addresses', () => {
  const list = parsed(' 10.0.0.0/8, 2001:db8::/32 ,192.0.2.7');
  for (const a of ['10.1.2.3', '2001:db8::1', '2001:db8:ffff::9', '192.0.2.7', '::ffff:10.9.9.9']) assert.equal(list.allows(a), true, a);
  for (const a of ['11.0.0.1', '127.0.0.1', '::1', '2001:db9::1', '192.0.2.8', '::ffff:127.0.0.1', undefined]) assert.equal(list.allows(a), false, String(a));
  assert.equal(parsed('::/0').allows('::1'), true);
  assert.equal(parsed('0.0.0.0/0').allows('::ffff:8.8.8.8'), true);
});

test('a bad range is refused with the item named', () => {
  for (const bad of ['10.0.0.0/33', 'example.com', '10.0.0/8', '::1/129', ' , ', '10.0.0.0/8,nonsense']) {
    const r = parseAllowFrom(bad);
    assert.ok('error' in r, bad);
  }
  const r = parseAllowFrom('10.0.0.0/8,nonsense');
  assert.ok('error' in r && r.error.includes('"nonsense"'));
});
