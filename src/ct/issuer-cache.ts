/**
 * Chain certificates of static-ct-api logs: a data tile names each issuer only by its SHA-256
 * fingerprint, and the certificate is served at `<monitoring prefix>/issuer/<hex fingerprint>`.
 * Issuers repeat across every entry (and across logs of one operator), so they are fetched once,
 * verified against their fingerprint, and kept in an LRU bounded in bytes, shared by all static followers.
 *
 * Concurrent requests for one fingerprint share one fetch. That fetch belongs to the cache, not to the
 * caller that started it: it runs under the cache's own lifetime (HttpClient deadline, aborted only by
 * close()), and each caller waits for it under its own signal. So a follower whose round is cancelled
 * stops waiting, while the other logs waiting for the same issuer still get it.
 */
import { createHash } from 'node:crypto';
import { CertstreamError } from '../errors.js';
import type { HttpClient } from './http-client.js';
import { DEFAULT_ISSUER_CACHE_BYTES, MAX_CERT_BYTES } from './size-limits.js';

/** Settings of an IssuerCache. */
export interface IssuerCacheOptions {
  /** Byte budget of the cached DER (default 32 MiB; the whole ecosystem has a few hundred issuers of ~1.5 kB). */
  maxBytes?: number;
  /** Largest issuer certificate accepted, bytes (default MAX_CERT_BYTES, 128 KiB). */
  maxCertBytes?: number;
}

interface Pending {
  /** The monitoring URL the shared fetch reads from. */
  readonly from: string;
  readonly result: Promise<Uint8Array>;
}

/** A shared cache of issuer certificates keyed by lowercase hex SHA-256, bounded in bytes. */
export class IssuerCache {
  private readonly cached = new Map<string, Uint8Array>();
  private readonly inFlight = new Map<string, Pending>();
  private readonly lifetime = new AbortController();
  private readonly maxBytes: number;
  private readonly maxCertBytes: number;
  private cachedBytes = 0;
  /** Number of issuer fetches made (for tests and metrics). */
  fetches = 0;

  constructor(
    private readonly http: HttpClient,
    options: IssuerCacheOptions = {},
  ) {
    this.maxBytes = Math.max(1, options.maxBytes ?? DEFAULT_ISSUER_CACHE_BYTES);
    this.maxCertBytes = Math.max(1, options.maxCertBytes ?? MAX_CERT_BYTES);
  }

  /** Number of cached issuers. */
  get size(): number {
    return this.cached.size;
  }

  /** Bytes of DER cached. */
  get bytes(): number {
    return this.cachedBytes;
  }

  /**
   * The DER of the issuer with this fingerprint, fetched from `monitoringUrl` (ending in `/`) when not cached.
   * @param signal stops this caller's wait (CT_ERR_ABORTED) without cancelling the shared fetch
   * @throws CertstreamError CT_ERR_ISSUER_MISMATCH when the body does not hash to the fingerprint,
   *   CT_ERR_TOO_LARGE when the issuer is over the certificate size limit, CT_ERR_ABORTED, or the HttpClient's errors.
   */
  async get(monitoringUrl: string, fingerprint: string, signal?: AbortSignal): Promise<Uint8Array> {
    const hit = this.cached.get(fingerprint);
    if (hit) {
      // Re-insert to mark as most recently used.
      this.cached.delete(fingerprint);
      this.cached.set(fingerprint, hit);
      return hit;
    }
    const pending = this.inFlight.get(fingerprint) ?? this.start(monitoringUrl, fingerprint);
    try {
      return await waitFor(pending.result, signal);
    } catch (err) {
      // Another log's fetch of this issuer failed (its log may not serve it): try from this caller's log.
      if (pending.from === monitoringUrl || signal?.aborted || this.lifetime.signal.aborted) throw err;
      const own = this.inFlight.get(fingerprint) ?? this.start(monitoringUrl, fingerprint);
      return await waitFor(own.result, signal);
    }
  }

  /** Cancels the fetches in flight (Ingest.stop). */
  close(): void {
    this.lifetime.abort();
  }

  private start(monitoringUrl: string, fingerprint: string): Pending {
    const result = this.fetch(monitoringUrl, fingerprint).finally(() => {
      if (this.inFlight.get(fingerprint) === pending) this.inFlight.delete(fingerprint);
    });
    result.catch(() => undefined); // awaited by the callers; a caller that gave up must not leave it unhandled
    const pending: Pending = { from: monitoringUrl, result };
    this.inFlight.set(fingerprint, pending);
    return pending;
  }

  private async fetch(monitoringUrl: string, fingerprint: string): Promise<Uint8Array> {
    const url = `${monitoringUrl}issuer/${fingerprint}`;
    this.fetches++;
    let body: Buffer;
    try {
      body = (await this.http.get(url, this.lifetime.signal, { maxBodyBytes: this.maxCertBytes })).body;
    } catch (err) {
      if (err instanceof CertstreamError && err.code === 'CT_ERR_BODY_TOO_LARGE') {
        throw new CertstreamError('CT_ERR_TOO_LARGE', `GET ${url}: issuer over ${this.maxCertBytes} bytes`, { cause: err });
      }
      throw err;
    }
    const actual = createHash('sha256').update(body).digest('hex');
    if (actual !== fingerprint) {
      throw new CertstreamError('CT_ERR_ISSUER_MISMATCH', `GET ${url}: body hashes to ${actual}`);
    }
    const der = new Uint8Array(body);
    this.cached.set(fingerprint, der);
    this.cachedBytes += der.length;
    while (this.cachedBytes > this.maxBytes && this.cached.size > 1) {
      const [oldest, old] = this.cached.entries().next().value as [string, Uint8Array];
      this.cached.delete(oldest);
      this.cachedBytes -= old.length;
    }
    return der;
  }
}

/** `result`, or CT_ERR_ABORTED as soon as `signal` aborts (the promise itself runs on). */
function waitFor<T>(result: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return result;
  const aborted = () => new CertstreamError('CT_ERR_ABORTED', 'issuer fetch: wait aborted');
  if (signal.aborted) return Promise.reject(aborted());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(aborted());
    signal.addEventListener('abort', onAbort, { once: true });
    result.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}
