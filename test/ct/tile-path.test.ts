import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TILE_WIDTH, dataTilePath, encodeTileIndex } from '../../src/ct/tile-path.js';
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

test('tile index encoding: boundaries of each 3-digit group, and non-integers rejected', () => {
  assert.equal(encodeTileIndex(1), '001');
  assert.equal(encodeTileIndex(999), '999');
  assert.equal(encodeTileIndex(999_999), 'x999/999');
  assert.equal(encodeTileIndex(1_000_000), 'x001/x000/000');
  assert.equal(encodeTileIndex(1_000_001), 'x001/x000/001');
  // Tile of the largest index in the fixtures' partial tile (777 → tile 3) and a 2^40-entry log.
  assert.equal(encodeTileIndex(Math.floor(777 / TILE_WIDTH)), '003');
  assert.equal(encodeTileIndex(Math.floor(2 ** 40 / TILE_WIDTH)), 'x004/x294/x967/296');
  assert.throws(() => encodeTileIndex(1.5), RangeError);
  assert.throws(() => encodeTileIndex(Number.NaN), RangeError);
  assert.throws(() => encodeTileIndex(2 ** 53), RangeError);
});

test('data tile paths match the fixture layout (tile/data/000, tile/data/003.p/10)', () => {
  assert.equal(TILE_WIDTH, 256);
  assert.equal(dataTilePath(0), 'tile/data/000');
  assert.equal(dataTilePath(1234, 1), 'tile/data/x001/234.p/1');
  assert.equal(dataTilePath(1234, 255), 'tile/data/x001/234.p/255');
  const root = fileURLToPath(new URL('../fixtures/static-ct/navigli2025h2/', import.meta.url));
  assert.ok(existsSync(root + dataTilePath(0)));
  assert.ok(existsSync(root + dataTilePath(3, 10)));
});

test('a width outside 1..256 has no tile path', () => {
  for (const w of [0, -1, 257, 1.5, Number.NaN]) assert.throws(() => dataTilePath(3, w), RangeError, String(w));
});
