/**
 * The fake log's signing key (ECDSA P-256, fresh per log and per run) and the two signed forms of a
 * tree head: an RFC 6962 get-sth body and a static-ct-api checkpoint (a signed note carrying the
 * RFC 6962 note signature). Both verify with src/verify/ and the key the fake's log list publishes.
 */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { rfc6962NoteKeyId } from '../src/verify/checkpoint-signature.js';
import { encodeDigitallySigned, HASH_SHA256, SIG_ECDSA } from '../src/verify/digitally-signed.js';
import { logIdOf } from '../src/verify/log-key.js';
import { treeHeadSignatureInput, type TreeHead } from '../src/verify/tree-head.js';

export class FakeSigner {
  /** SubjectPublicKeyInfo DER of the public key. */
  readonly spki: Buffer;
  /** RFC 6962 LogID: SHA-256 of `spki`. */
  readonly logId: Buffer;
  private readonly privateKey: KeyObject;

  constructor() {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    this.spki = publicKey.export({ format: 'der', type: 'spki' });
    this.logId = logIdOf(this.spki);
    this.privateKey = privateKey;
  }

  /**
   * The TLS DigitallySigned of the head's TreeHeadSignature.
   * @param corrupt flip a bit of the signature (a log that signs badly)
   */
  treeHeadSignature(head: TreeHead, corrupt = false): Buffer {
    const signature = sign('sha256', treeHeadSignatureInput(head), { key: this.privateKey, dsaEncoding: 'der' });
    if (corrupt) signature[signature.length - 1] ^= 1;
    return encodeDigitallySigned({ hashAlgorithm: HASH_SHA256, signatureAlgorithm: SIG_ECDSA, signature });
  }

  /** A get-sth body (RFC 6962 §4.3); `corrupt` as treeHeadSignature. */
  sth(head: TreeHead, corrupt = false): Record<string, unknown> {
    return {
      tree_size: head.treeSize,
      timestamp: head.timestamp,
      sha256_root_hash: Buffer.from(head.rootHash).toString('base64'),
      tree_head_signature: this.treeHeadSignature(head, corrupt).toString('base64'),
    };
  }

  /** A checkpoint for `origin` (the key name too), signed with the RFC 6962 note signature; `corrupt` as treeHeadSignature. */
  checkpoint(origin: string, head: TreeHead, corrupt = false): string {
    const ts = Buffer.alloc(8);
    ts.writeBigUInt64BE(BigInt(head.timestamp));
    const sig = Buffer.concat([rfc6962NoteKeyId(origin, this.logId), ts, this.treeHeadSignature(head, corrupt)]);
    const root = Buffer.from(head.rootHash).toString('base64');
    return `${origin}\n${head.treeSize}\n${root}\n\n— ${origin} ${sig.toString('base64')}\n`;
  }
}
