/**
 * The real CT data the fake log serves, loaded from test/fixtures (sources in test/fixtures/SOURCES.md):
 * - RFC 6962: the `leaf_input` / `extra_data` of 41 real get-entries items (Argon, Nimbus), served as is;
 * - static-ct-api: the 256 TileLeaf records of Sunlight's navigli2025h2 data tile 000, re-numbered by
 *   rewriting their `leaf_index` extension, and the issuer certificates they name.
 * - synthetic: leaf certificates for made-up `.example` names under a throw-away CA (synthetic.ts),
 *   appended after the real items so that a long run streams many distinct domains.
 * Entry n of a fake log is corpus item n mod corpus size.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import { rfcItem, synthesiseCerts, tileRecord } from './synthetic.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'test', 'fixtures');

/** One RFC 6962 get-entries item, base64 fields as served. */
export interface RfcItem {
  leaf_input: string;
  extra_data: string;
}

/** One TileLeaf record and where its 5-byte leaf_index value sits inside it. */
export interface TileRecord {
  bytes: Buffer;
  leafIndexOffset: number;
}

/** The fixture data a FakeCtLog serves. */
export interface Corpus {
  rfc: RfcItem[];
  tile: TileRecord[];
  /** Issuer DER by lowercase hex SHA-256. */
  issuers: Map<string, Buffer>;
}

let cached: Promise<Corpus> | undefined;

/** Loads (once per process) the corpus: the fixtures from test/fixtures, then the synthetic certificates. */
export function loadCorpus(): Promise<Corpus> {
  cached ??= build();
  return cached;
}

async function build(): Promise<Corpus> {
  const corpus: Corpus = {
    rfc: loadRfcItems(),
    tile: splitTile(readFileSync(join(FIXTURES, 'static-ct/navigli2025h2/tile/data/000'))),
    issuers: loadIssuers(join(FIXTURES, 'static-ct/navigli2025h2/issuer')),
  };
  const synth = await synthesiseCerts();
  const now = Date.now();
  synth.leaves.forEach((leaf, i) => {
    corpus.rfc.push(rfcItem(leaf, [synth.ca], now + i));
    corpus.tile.push(tileRecord(leaf, [synth.ca], now + i));
  });
  corpus.issuers.set(createHash('sha256').update(synth.ca).digest('hex'), synth.ca);
  return corpus;
}

function loadRfcItems(): RfcItem[] {
  const dir = join(FIXTURES, 'rfc6962');
  const live = JSON.parse(readFileSync(join(dir, 'live-entries_argon2026h2-nimbus2026_40.json'), 'utf8')) as RfcItem[];
  const one = JSON.parse(readFileSync(join(dir, 'get-entries_argon2025h2_1-precert_google.com.json'), 'utf8')) as {
    entries: RfcItem[];
  };
  return [...live, ...one.entries].map((e) => ({ leaf_input: e.leaf_input, extra_data: e.extra_data }));
}

function loadIssuers(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const name of readdirSync(dir)) out.set(name, readFileSync(join(dir, name)));
  return out;
}

/** Splits a data tile into its TileLeaf records (layout in src/ct/tile-leaf.ts). */
export function splitTile(tile: Buffer): TileRecord[] {
  const out: TileRecord[] = [];
  let p = 0;
  const u16 = () => {
    const v = tile.readUInt16BE(p);
    p += 2;
    return v;
  };
  const u24 = () => {
    const v = tile.readUIntBE(p, 3);
    p += 3;
    return v;
  };
  while (p < tile.length) {
    const start = p;
    p += 8;
    const type = u16();
    if (type === 1) p += 32; // issuer_key_hash
    // (`p += u24()` would read p before the call advanced it.)
    const certLen = u24(); // certificate (x509) or tbs_certificate (precert)
    p += certLen;
    const extStart = p;
    const extLen = u16();
    p += extLen;
    if (tile[extStart + 2] !== 0 || tile.readUInt16BE(extStart + 3) !== 5) throw new Error('fixture tile: leaf_index is not the first extension');
    if (type === 1) {
      const preLen = u24(); // pre_certificate
      p += preLen;
    }
    const chainLen = u16(); // chain fingerprints
    p += chainLen;
    out.push({ bytes: tile.subarray(start, p), leafIndexOffset: extStart + 5 - start });
  }
  return out;
}
