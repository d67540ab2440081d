/**
 * RFC 6962 entry decoding (pure): a get-entries item's `leaf_input` (MerkleTreeLeaf, §3.4) and
 * `extra_data` (§4.6) into a CtEntry. For x509 entries the leaf is the logged certificate and extra_data
 * is the certificate_chain; for precert entries the leaf_input only holds the TBS, so the leaf is the
 * full `pre_certificate` from the PrecertChainEntry (the only parseable certificate of a precert).
 */
import { CertstreamError } from '../errors.js';
import type { CtEntry } from './types.js';
import { TlsReader, readCertList } from './tls-reader.js';

/** The header fields of a MerkleTreeLeaf, without the certificate bytes. */
export interface MerkleLeafHeader {
  timestamp: number;
  type: 'x509' | 'precert';
  /** x509: the certificate DER. precert: the TBSCertificate. */
  signedEntry: Uint8Array;
  /** precert only: SHA-256 of the issuer's SubjectPublicKeyInfo. */
  issuerKeyHash?: Uint8Array;
  extensions: Uint8Array;
}

/** Decodes `leaf_input` bytes; throws CertstreamError CT_ERR_BAD_LEAF on any malformed input. */
export function decodeMerkleTreeLeaf(leafInput: Uint8Array): MerkleLeafHeader {
  try {
    const r = new TlsReader(leafInput);
    const version = r.uint(1);
    if (version !== 0) throw new RangeError(`unknown MerkleTreeLeaf version ${version}`);
    const leafType = r.uint(1);
    if (leafType !== 0) throw new RangeError(`unknown leaf_type ${leafType}`);
    const timestamp = r.uint64();
    const entryType = r.uint(2);
    let out: MerkleLeafHeader;
    if (entryType === 0) {
      const cert = r.vector(3);
      out = { timestamp, type: 'x509', signedEntry: cert, extensions: r.vector(2) };
    } else if (entryType === 1) {
      const issuerKeyHash = r.bytes(32);
      const tbs = r.vector(3);
      out = { timestamp, type: 'precert', signedEntry: tbs, issuerKeyHash, extensions: r.vector(2) };
    } else {
      throw new RangeError(`unknown entry_type ${entryType}`);
    }
    r.end();
    if (out.signedEntry.length === 0) throw new RangeError('empty signed entry');
    return out;
  } catch (err) {
    throw asBadLeaf('leaf_input', err);
  }
}

/**
 * Decodes one get-entries item into a CtEntry.
 * @param index the entry's 0-based index in its log
 * @param leafInput decoded base64 `leaf_input`
 * @param extraData decoded base64 `extra_data`
 */
export function decodeLogEntry(index: number, leafInput: Uint8Array, extraData: Uint8Array): CtEntry {
  const head = decodeMerkleTreeLeaf(leafInput);
  try {
    const r = new TlsReader(extraData);
    if (head.type === 'x509') {
      const chain = readCertList(r.vector(3));
      r.end();
      return { index, timestamp: head.timestamp, type: 'x509', leaf: head.signedEntry, chain };
    }
    const preCert = r.vector(3);
    if (preCert.length === 0) throw new RangeError('empty pre_certificate');
    const chain = readCertList(r.vector(3));
    r.end();
    return { index, timestamp: head.timestamp, type: 'precert', leaf: preCert, chain };
  } catch (err) {
    throw asBadLeaf('extra_data', err);
  }
}

/** Decodes a get-entries JSON item with base64 fields; CT_ERR_BAD_LEAF when the fields are missing. */
export function decodeJsonEntry(index: number, item: unknown): CtEntry {
  const o = item as { leaf_input?: unknown; extra_data?: unknown } | null;
  if (!o || typeof o.leaf_input !== 'string' || typeof o.extra_data !== 'string') {
    throw new CertstreamError('CT_ERR_BAD_LEAF', `entry ${index}: leaf_input/extra_data missing`);
  }
  return decodeLogEntry(index, Buffer.from(o.leaf_input, 'base64'), Buffer.from(o.extra_data, 'base64'));
}

function asBadLeaf(what: string, err: unknown): CertstreamError {
  if (err instanceof CertstreamError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new CertstreamError('CT_ERR_BAD_LEAF', `bad ${what}: ${msg}`, { cause: err });
}
