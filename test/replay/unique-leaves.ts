/**
 * Real CT entries made unique, for measuring what the window stores per entry: the real fixture entries
 * (their leaf sizes, names and extensions, their chains, which repeat as chains do in real logs) with
 * each leaf's serial number and the end of its signature replaced by fresh random bytes, so that no two
 * leaves are alike (distinct serial, fingerprint and as_der) while every one still parses and renders.
 */
import { randomFillSync } from 'node:crypto';
import type { CtEntry, LogDescriptor } from '../../src/ct/types.js';
import { parseCertificate } from '../../src/x509/certificate.js';
import { RFC6962_LOG, STATIC_LOG, rfc6962Entries, staticEntries } from '../x509/corpus.js';

/** Signature bytes replaced at the end of each leaf (inside the signature value of RSA and ECDSA alike). */
const SIGNATURE_TAIL = 16;

export interface UniqueSource {
  /** Entry `n` (0, 1, …): fixture entry n mod the corpus size, its leaf made unique, index n. */
  entry(n: number): { log: LogDescriptor; entry: CtEntry };
  /** Fixture entries in the corpus. */
  readonly size: number;
}

export function uniqueLeafSource(): UniqueSource {
  const base = [
    ...rfc6962Entries().map((entry) => ({ log: RFC6962_LOG, entry })),
    ...staticEntries().map((entry) => ({ log: STATIC_LOG, entry })),
  ];
  const serials = base.map(({ entry }) => {
    const c = parseCertificate(entry.leaf);
    return { start: c.serialStart, end: c.serialEnd };
  });
  return {
    size: base.length,
    entry(n: number) {
      const { log, entry } = base[n % base.length];
      const { start, end } = serials[n % base.length];
      const leaf = Buffer.from(entry.leaf);
      randomFillSync(leaf, start, end - start);
      leaf[start] = (leaf[start] & 0x7f) | 0x40; // positive, minimally encoded
      randomFillSync(leaf, leaf.length - SIGNATURE_TAIL, SIGNATURE_TAIL);
      return { log, entry: { ...entry, index: n, leaf } };
    },
  };
}
