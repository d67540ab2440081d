/**
 * static-ct-api data tiles (pure): a tile is TileLeaf records back to back, no count, no framing.
 *   uint64 timestamp; uint16 entry_type;
 *   x509:    uint24 cert; uint16 extensions; uint16 chain-fingerprints (BYTE length, 32 per issuer)
 *   precert: issuer_key_hash[32]; uint24 tbs; uint16 extensions; uint24 pre_certificate; uint16 fingerprints
 * The extensions must hold the `leaf_index` extension (type 0, length 5, uint40), which must equal the
 * entry's position in the log.
 */
import { CertstreamError } from '../errors.js';
import { TlsReader } from './tls-reader.js';

/** One decoded TileLeaf. */
export interface TileLeaf {
  /** CT timestamp, ms since the epoch. */
  timestamp: number;
  type: 'x509' | 'precert';
  /** x509: the certificate DER; precert: the full pre_certificate DER. */
  cert: Uint8Array;
  /** precert only: the TBSCertificate that was logged. */
  tbs?: Uint8Array;
  /** The raw CtExtensions bytes. */
  extensions: Uint8Array;
  /** leaf_index from the extensions, or null when the extension is missing. */
  leafIndex: number | null;
  /** SHA-256 fingerprints of the chain, issuer first, as lowercase hex. */
  chain: string[];
}

/** Reads the `leaf_index` extension (type 0, 5-byte uint40) from CtExtensions; null when absent. */
export function readLeafIndex(extensions: Uint8Array): number | null {
  const r = new TlsReader(extensions);
  while (r.remaining > 0) {
    const type = r.uint(1);
    const data = r.vector(2);
    if (type === 0) {
      if (data.length !== 5) throw new RangeError(`leaf_index extension of ${data.length} bytes`);
      return new TlsReader(data).uint(5);
    }
  }
  return null;
}

/**
 * Decodes every TileLeaf of a data tile body.
 * @param firstIndex when given, the log index of the tile's first entry: each leaf_index must equal
 *   firstIndex + position (CT_ERR_BAD_TILE otherwise).
 * @throws CertstreamError CT_ERR_BAD_TILE on truncated or malformed bytes.
 */
export function parseTileLeaves(bytes: Uint8Array, firstIndex?: number): TileLeaf[] {
  return parseTileLeavesWithSpans(bytes, firstIndex).leaves;
}

/**
 * Where a TileLeaf's `timestamped_entry` lies in the tile body: bytes [start, end). These bytes, after
 * the two MerkleTreeLeaf header bytes (version v1, timestamped_entry), are the entry's Merkle tree leaf.
 */
export interface TimestampedEntrySpan {
  start: number;
  end: number;
}

/**
 * parseTileLeaves, plus the byte span of each entry's TimestampedEntry (for its leaf hash, without a
 * second pass over the tile). Same checks and errors as parseTileLeaves.
 */
export function parseTileLeavesWithSpans(bytes: Uint8Array, firstIndex?: number): { leaves: TileLeaf[]; spans: TimestampedEntrySpan[] } {
  const r = new TlsReader(bytes);
  const out: TileLeaf[] = [];
  const spans: TimestampedEntrySpan[] = [];
  try {
    while (r.remaining > 0) {
      const start = r.offset;
      let end: number;
      const timestamp = r.uint64();
      const entryType = r.uint(2);
      let leaf: TileLeaf;
      if (entryType === 0) {
        const cert = r.vector(3);
        const extensions = r.vector(2);
        end = r.offset;
        const chain = fingerprints(r.vector(2));
        leaf = { timestamp, type: 'x509', cert, extensions, leafIndex: readLeafIndex(extensions), chain };
      } else if (entryType === 1) {
        r.bytes(32);
        const tbs = r.vector(3);
        const extensions = r.vector(2);
        end = r.offset;
        const cert = r.vector(3);
        const chain = fingerprints(r.vector(2));
        leaf = { timestamp, type: 'precert', cert, tbs, extensions, leafIndex: readLeafIndex(extensions), chain };
      } else {
        throw new RangeError(`unknown entry_type ${entryType}`);
      }
      if (leaf.cert.length === 0) throw new RangeError('empty certificate');
      if (firstIndex !== undefined && leaf.leafIndex !== firstIndex + out.length) {
        throw new RangeError(`leaf_index ${leaf.leafIndex} at position ${firstIndex + out.length}`);
      }
      out.push(leaf);
      spans.push({ start, end });
    }
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new CertstreamError('CT_ERR_BAD_TILE', `bad data tile entry ${out.length} (byte ${r.offset}): ${msg}`, {
      cause: err,
    });
  }
  return { leaves: out, spans };
}

function fingerprints(bytes: Uint8Array): string[] {
  if (bytes.length % 32 !== 0) throw new RangeError(`chain of ${bytes.length} bytes is not a multiple of 32`);
  const out: string[] = [];
  for (let i = 0; i < bytes.length; i += 32) out.push(Buffer.from(bytes.subarray(i, i + 32)).toString('hex'));
  return out;
}
