/**
 * A throw-away self-signed certificate for 127.0.0.1 (openssl), for benchmarks that run the server with
 * --tls-cert/--tls-key. The benchmark's own clients skip verification: it measures cost, not trust.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/** Writes cert.pem and key.pem (ECDSA P-256, as a typical ACME certificate) into `dir`; returns the server flags. */
export function selfSignedTlsArgs(dir: string): string[] {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '2',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: ['ignore', 'ignore', 'pipe'] });
  return ['--tls-cert', cert, '--tls-key', key];
}
