/**
 * Certificates the fake CT log synthesises next to the real fixtures: a throw-away ECDSA CA and leaf
 * certificates for made-up names under `.example` (RFC 2606), so that a long-running fake (the demo,
 * benchmarks) streams many distinct domains rather than the same few dozen. Built with @peculiar/x509;
 * deterministic names, fresh keys per process.
 */
import 'reflect-metadata';
import { createHash, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

/** A synthesised chain: leaf DERs signed by one CA. */
export interface SyntheticCerts {
  ca: Buffer;
  leaves: Buffer[];
}

const WORDS = ['login', 'secure', 'account', 'shop', 'mail', 'portal', 'pay', 'cloud', 'api', 'status', 'docs', 'update'];

/** Domain names of synthetic leaf `i`: a base name and its `www.` twin (and a wildcard for every third). */
export function syntheticNames(i: number): string[] {
  const base = `${WORDS[i % WORDS.length]}-${i}.synthetic-${Math.floor(i / WORDS.length)}.example`;
  return i % 3 === 0 ? [base, `www.${base}`, `*.${base}`] : [base, `www.${base}`];
}

/** Creates `count` leaf certificates (default 64) under a fresh CA. */
export async function synthesiseCerts(count = 64): Promise<SyntheticCerts> {
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const subtle = webcrypto.subtle;
  const caKeys = (await subtle.generateKey(alg, false, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const leafKeys = (await subtle.generateKey(alg, false, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const notBefore = new Date(Date.now() - 3_600_000);
  const notAfter = new Date(Date.now() + 90 * 86_400_000);
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'C=US, O=certstream-server fake CT log, CN=Synthetic Test CA E1',
    notBefore,
    notAfter,
    keys: caKeys,
    signingAlgorithm: alg,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ],
  });
  const leaves: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const names = syntheticNames(i);
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: createHash('sha256').update(`synthetic ${i} ${notBefore.getTime()}`).digest('hex').slice(0, 32).replace(/^[89a-f]/, '1'),
      subject: `CN=${names[0]}`,
      issuer: ca.subject,
      notBefore,
      notAfter,
      signingKey: caKeys.privateKey,
      publicKey: leafKeys.publicKey,
      signingAlgorithm: alg,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension(names.map((value) => ({ type: 'dns' as const, value }))),
      ],
    });
    leaves.push(Buffer.from(cert.rawData));
  }
  return { ca: Buffer.from(ca.rawData), leaves };
}

/** An RFC 6962 get-entries item for an x509 leaf with its chain (MerkleTreeLeaf v1 + certificate_chain). */
export function rfcItem(leaf: Buffer, chain: Buffer[], timestamp: number): { leaf_input: string; extra_data: string } {
  const head = Buffer.alloc(12);
  head.writeUInt8(0, 0); // version v1
  head.writeUInt8(0, 1); // leaf_type timestamped_entry
  head.writeBigUInt64BE(BigInt(timestamp), 2);
  head.writeUInt16BE(0, 10); // entry_type x509_entry
  const leafInput = Buffer.concat([head, u24(leaf.length), leaf, Buffer.from([0, 0])]);
  const certs = Buffer.concat(chain.flatMap((c) => [u24(c.length), c]));
  const extraData = Buffer.concat([u24(certs.length), certs]);
  return { leaf_input: leafInput.toString('base64'), extra_data: extraData.toString('base64') };
}

/** A static-ct-api TileLeaf for an x509 leaf; its leaf_index (5 bytes) sits at the returned offset. */
export function tileRecord(leaf: Buffer, chain: Buffer[], timestamp: number): { bytes: Buffer; leafIndexOffset: number } {
  const head = Buffer.alloc(10);
  head.writeBigUInt64BE(BigInt(timestamp), 0);
  head.writeUInt16BE(0, 8); // x509_entry
  const ext = Buffer.from([0, 8, 0, 0, 5, 0, 0, 0, 0, 0]); // extensions<2>{ leaf_index(0), uint40 }
  const fps = Buffer.concat(chain.map((c) => createHash('sha256').update(c).digest()));
  const fpLen = Buffer.alloc(2);
  fpLen.writeUInt16BE(fps.length);
  const bytes = Buffer.concat([head, u24(leaf.length), leaf, ext, fpLen, fps]);
  return { bytes, leafIndexOffset: 10 + 3 + leaf.length + 5 };
}

function u24(n: number): Buffer {
  const b = Buffer.alloc(3);
  b.writeUIntBE(n, 0, 3);
  return b;
}
