/**
 * Test certificates made with the real openssl: a CA, and leaves for 127.0.0.1/localhost signed by it
 * (each leaf file holds the leaf then the CA: a chain, as --tls-cert takes it).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';

export interface TestLeaf {
  /** The chain file: leaf, then the CA. */
  readonly certFile: string;
  readonly keyFile: string;
  /** SHA-256 fingerprint of the leaf (as `X509Certificate.fingerprint256` and `getPeerCertificate().fingerprint256`). */
  readonly fingerprint: string;
}

export class TestCa {
  readonly certFile: string;
  private readonly keyFile: string;
  private serial = 1;

  private constructor(readonly dir: string) {
    this.certFile = join(dir, 'ca.crt');
    this.keyFile = join(dir, 'ca.key');
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', this.keyFile, '-out', this.certFile, '-days', '2', '-subj', '/CN=certstream test CA']);
  }

  /** A CA in a fresh temporary directory (`remove()` deletes it). */
  static create(): TestCa {
    return new TestCa(mkdtempSync(join(tmpdir(), 'certstream-tls-')));
  }

  get pem(): Buffer {
    return readFileSync(this.certFile);
  }

  /** A new leaf for 127.0.0.1 and localhost, signed by the CA. */
  leaf(name = `leaf${this.serial}`): TestLeaf {
    const keyFile = join(this.dir, `${name}.key`);
    const csr = join(this.dir, `${name}.csr`);
    const crt = join(this.dir, `${name}.crt`);
    const ext = join(this.dir, `${name}.ext`);
    writeFileSync(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
    openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', csr, '-subj', `/CN=${name}`]);
    openssl(['x509', '-req', '-in', csr, '-CA', this.certFile, '-CAkey', this.keyFile, '-set_serial', String(this.serial++), '-days', '2', '-extfile', ext, '-out', crt]);
    const certFile = join(this.dir, `${name}.chain.pem`);
    writeFileSync(certFile, Buffer.concat([readFileSync(crt), readFileSync(this.certFile)]));
    return { certFile, keyFile, fingerprint: new X509Certificate(readFileSync(crt)).fingerprint256 };
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}
