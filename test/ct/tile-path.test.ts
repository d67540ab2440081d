import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dataTilePath, encodeTileIndex } from '../../src/ct/tile-path.js';
import { certLink } from '../../src/ct/cert-link.js';
import type { LogDescriptor } from '../../src/ct/types.js';

test('tile indexes use x-prefixed 3-digit path elements (static-ct-api examples)', () => {
  assert.equal(encodeTileIndex(0), '000');
  assert.equal(encodeTileIndex(1234), 'x001/234');
  assert.equal(encodeTileIndex(1234067), 'x001/x234/067');
  // TrustAsia tile quoted in ct-protocols.md: N = 8,751,768
  assert.equal(encodeTileIndex(8751768), 'x008/x751/768');
  assert.equal(encodeTileIndex(1000), 'x001/000');
  assert.throws(() => encodeTileIndex(-1), RangeError);
});

test('data tile paths: full and partial', () => {
  assert.equal(dataTilePath(3), 'tile/data/003');
  assert.equal(dataTilePath(3, 10), 'tile/data/003.p/10');
  assert.equal(dataTilePath(3, 256), 'tile/data/003');
});

test('cert_link: get-entries for RFC 6962, the full data tile for static logs', () => {
  const base = { name: 'x', operator: 'o', logId: 'id', state: 'usable' };
  const rfc: LogDescriptor = { ...base, kind: 'rfc6962', url: 'https://ct.example/log/', monitoringUrl: 'https://ct.example/log/' };
  assert.equal(certLink(rfc, 42), 'https://ct.example/log/ct/v1/get-entries?start=42&end=42');
  const st: LogDescriptor = { ...base, kind: 'static', url: 'https://mon.example/2026h1/', monitoringUrl: 'https://mon.example/2026h1/' };
  assert.equal(certLink(st, 777), 'https://mon.example/2026h1/tile/data/003');
});
