/**
 * static-ct-api tile index encoding: the tile number N is written as 3-digit path elements, every element
 * but the last prefixed with `x` (0 → "000", 1234 → "x001/234", 1234067 → "x001/x234/067").
 */
export function encodeTileIndex(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`tile index must be a non-negative integer, got ${n}`);
  let s = String(n % 1000).padStart(3, '0');
  for (let rest = Math.floor(n / 1000); rest > 0; rest = Math.floor(rest / 1000)) {
    s = `x${String(rest % 1000).padStart(3, '0')}/${s}`;
  }
  return s;
}

/** Path of a data tile below the monitoring prefix: `tile/data/<N>` or `tile/data/<N>.p/<W>` (0 < W < 256). */
export function dataTilePath(tile: number, width = 256): string {
  // A width of 0 or over 256 has no tile URL (".p/0" would be requested from the log otherwise).
  if (!Number.isSafeInteger(width) || width < 1 || width > 256) throw new RangeError(`tile width must be 1..256, got ${width}`);
  const base = `tile/data/${encodeTileIndex(tile)}`;
  return width >= 256 ? base : `${base}.p/${width}`;
}

/** Path of a hash tile below the monitoring prefix: `tile/<L>/<N>` or `tile/<L>/<N>.p/<W>` (0 < W < 256). */
export function hashTilePath(level: number, tile: number, width = 256): string {
  return dataTilePath(tile, width).replace(/^tile\/data\//, `tile/${level}/`);
}

/** Number of entries per full tile. */
export const TILE_WIDTH = 256;
