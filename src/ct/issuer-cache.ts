/**
 * Chain certificates of static-ct-api logs: a data tile names each issuer only by its SHA-256
 * fingerprint, and the certificate is served at `<monitoring prefix>/issuer/<hex fingerprint>`.
 * Issuers repeat across every entry (and across logs of one operator), so they are fetched once,
 * verified against their fingerprint, and kept in a bounded LRU shared by all static followers.
 * Concurrent requests for the same fingerprint share one fetch.
 */
import { createHash } from 'node:crypto';
import { CertstreamError } from '../errors.js';
import type { HttpClient } from './http-client.js';

/** Settings of an IssuerCache. */
export interface IssuerCacheOptions {
  /** Most issuers kept (default 10_000; a few hundred exist in the whole ecosystem). */
  maxEntries?: number;
}

/** A bounded, shared cache of issuer certificates keyed by lowercase hex SHA-256. */
export class IssuerCache {
  private readonly cached = new Map<string, Uint8Array>();
  private readonly inFlight = new Map<string, Promise<Uint8Array>>();
  private readonly maxEntries: number;
  /** Number of issuer fetches made (for tests and metrics). */
  fetches = 0;

  constructor(
    private readonly http: HttpClient,
    options: IssuerCacheOptions = {},
  ) {
    this.maxEntries = Math.max(1, options.maxEntries ?? 10_000);
  }

  /** Number of cached issuers. */
  get size(): number {
    return this.cached.size;
  }

  /**
   * The DER of the issuer with this fingerprint, fetched from `monitoringUrl` (ending in `/`) when not cached.
   * @throws CertstreamError CT_ERR_ISSUER_MISMATCH when the body does not hash to the fingerprint, or the
   *   HttpClient's errors.
   */
  get(monitoringUrl: string, fingerprint: string, signal?: AbortSignal): Promise<Uint8Array> {
    const hit = this.cached.get(fingerprint);
    if (hit) {
      // Re-insert to mark as most recently used.
      this.cached.delete(fingerprint);
      this.cached.set(fingerprint, hit);
      return Promise.resolve(hit);
    }
    let pending = this.inFlight.get(fingerprint);
    if (!pending) {
      pending = this.fetch(monitoringUrl, fingerprint, signal).finally(() => this.inFlight.delete(fingerprint));
      this.inFlight.set(fingerprint, pending);
    }
    return pending;
  }

  private async fetch(monitoringUrl: string, fingerprint: string, signal?: AbortSignal): Promise<Uint8Array> {
    const url = `${monitoringUrl}issuer/${fingerprint}`;
    this.fetches++;
    const res = await this.http.get(url, signal);
    const actual = createHash('sha256').update(res.body).digest('hex');
    if (actual !== fingerprint) {
      throw new CertstreamError('CT_ERR_ISSUER_MISMATCH', `GET ${url}: body hashes to ${actual}`);
    }
    const der = new Uint8Array(res.body);
    this.cached.set(fingerprint, der);
    if (this.cached.size > this.maxEntries) {
      const oldest = this.cached.keys().next().value;
      if (oldest !== undefined) this.cached.delete(oldest);
    }
    return der;
  }
}
