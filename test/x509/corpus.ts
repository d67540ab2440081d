// The certificate corpus of the render tests and bench/render.ts: every real fixture, nothing synthetic
// except the two synthetic golden certificates. Entries are decoded with the project's own CT decoders.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { decodeJsonEntry } from '../../src/ct/merkle-leaf.js';
import { parseTileLeaves } from '../../src/ct/tile-leaf.js';
import type { CtEntry, LogDescriptor } from '../../src/ct/types.js';

const FIX = 'test/fixtures';

export interface NamedCert {
  name: string;
  der: Buffer;
}

/** Every DER certificate of a PEM text. */
export function pemCerts(text: string): Buffer[] {
  const out: Buffer[] = [];
  const re = /-----BEGIN CERTIFICATE-----([^-]+)-----END CERTIFICATE-----/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) out.push(Buffer.from(m[1].replace(/\s+/g, ''), 'base64'));
  return out;
}

export const RFC6962_LOG: LogDescriptor = {
  kind: 'rfc6962',
  url: 'https://ct.googleapis.com/logs/us1/argon2026h2/',
  name: "Google 'Argon2026h2' log",
  operator: 'Google',
  logId: '',
  monitoringUrl: 'https://ct.googleapis.com/logs/us1/argon2026h2/',
  state: 'usable',
};

export const STATIC_LOG: LogDescriptor = {
  kind: 'static',
  url: 'https://navigli2025h2.skylight.geomys.org/',
  name: 'Geomys Navigli2025h2',
  operator: 'Geomys',
  logId: '',
  monitoringUrl: 'https://navigli2025h2.skylight.geomys.org/',
  submissionUrl: 'https://navigli2025h2.sunlight.geomys.org/',
  state: 'usable',
};

/** The real RFC 6962 entries: 40 live entries (26 x509, 14 precert) and 1 precert. */
export function rfc6962Entries(): CtEntry[] {
  const live = JSON.parse(readFileSync(join(FIX, 'rfc6962/live-entries_argon2026h2-nimbus2026_40.json'), 'utf8')) as {
    cert_index: number;
  }[];
  const out = live.map((e) => decodeJsonEntry(e.cert_index, e));
  const one = JSON.parse(readFileSync(join(FIX, 'rfc6962/get-entries_argon2025h2_1-precert_google.com.json'), 'utf8')) as {
    entries: unknown[];
  };
  out.push(decodeJsonEntry(0, one.entries[0]));
  return out;
}

/** The static-ct-api entries of data tile 000 with their chains from issuer/. */
export function staticEntries(): CtEntry[] {
  const dir = join(FIX, 'static-ct/navigli2025h2');
  const leaves = parseTileLeaves(readFileSync(join(dir, 'tile/data/000')), 0);
  const issuers = new Map<string, Buffer>();
  for (const f of readdirSync(join(dir, 'issuer'))) issuers.set(f, readFileSync(join(dir, 'issuer', f)));
  return leaves.map((l, i) => ({
    index: i,
    timestamp: l.timestamp,
    type: l.type,
    leaf: l.cert,
    chain: l.chain.flatMap((fp) => (issuers.has(fp) ? [issuers.get(fp)!] : [])),
  }));
}

/** Every certificate file in test/fixtures/certs and the golden certs (PEM files may hold a chain). */
export function fileCerts(): NamedCert[] {
  const out: NamedCert[] = [];
  for (const dir of [join(FIX, 'certs'), join(FIX, 'calidog-golden/certs')]) {
    for (const f of readdirSync(dir).sort()) {
      const bytes = readFileSync(join(dir, f));
      if (f.endsWith('.pem')) pemCerts(bytes.toString('latin1')).forEach((der, i) => out.push({ name: `${f}#${i}`, der }));
      else out.push({ name: f, der: bytes });
    }
  }
  return out;
}

/** Every distinct certificate of the fixtures: files, entry leaves and chains, issuers. */
export function fixtureCorpus(): NamedCert[] {
  const seen = new Set<string>();
  const out: NamedCert[] = [];
  const add = (name: string, der: Uint8Array): void => {
    const key = createHash('sha256').update(der).digest('hex');
    if (seen.has(key)) return;
    seen.add(key);
    out.push({ name, der: Buffer.from(der) });
  };
  for (const c of fileCerts()) add(c.name, c.der);
  for (const [tag, entries] of [['rfc6962', rfc6962Entries()], ['static', staticEntries()]] as const) {
    for (const e of entries) {
      add(`${tag}#${e.index}`, e.leaf);
      e.chain.forEach((c, i) => add(`${tag}#${e.index}.chain${i}`, c));
    }
  }
  return out;
}

/** The CA certificates of /etc/ssl/certs (Debian ca-certificates), one per *.pem file; [] when missing. */
export function systemCaCerts(dir = '/etc/ssl/certs'): NamedCert[] {
  if (!existsSync(dir)) return [];
  const out: NamedCert[] = [];
  const seen = new Set<string>();
  for (const f of readdirSync(dir).sort()) {
    if (!f.endsWith('.pem')) continue;
    let text: string;
    try {
      text = readFileSync(join(dir, f), 'latin1');
    } catch {
      continue;
    }
    for (const der of pemCerts(text)) {
      const key = createHash('sha256').update(der).digest('hex');
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ name: f, der });
    }
  }
  return out;
}
