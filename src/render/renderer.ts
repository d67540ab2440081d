/**
 * CT entry → the three certstream frames (wire-format.md §2–3), byte-compatible with the original
 * server's output (golden frames in test/fixtures/calidog-golden). This is the hot path: the leaf is
 * parsed by our own DER reader, every frame is built by string concatenation in the fixed key order,
 * and chain certificates, which repeat constantly, are rendered once and kept in an LRU cache keyed by
 * their content (see chainCert).
 */
import { certLink } from '../ct/cert-link.js';
import { entryOversize } from '../ct/size-limits.js';
import type { CtEntry, LogDescriptor } from '../ct/types.js';
import { CertstreamError } from '../errors.js';
import { asBuffer } from '../x509/certificate.js';
import { type RenderedCert, renderDer } from './cert-json.js';
import { erlangFloat, jsonString, jsonStringArray } from './json.js';

/** The frames of one entry, serialized once for every client of a stream. */
export interface RenderedFrames {
  /** compact JSON certificate_update without data.chain and without data.leaf_cert.as_der (stream `/`) */
  lite: string;
  /** compact JSON certificate_update with chain and as_der (stream `/full-stream`) */
  full: string;
  /** {"data":[...all_domains...],"message_type":"dns_entries"} (stream `/domains-only`) */
  domains: string;
  allDomains: readonly string[];
  /** The pieces `full` is made of, for stores that keep each chain certificate once (the replay window). */
  parts: FrameParts;
}

/**
 * How `full` is built from `lite` and the certificates, so that a store can keep each distinct chain
 * certificate once and rebuild `full` byte-identically (the replay window: replay/compact-record.ts):
 *
 *   full = lite.slice(0, chainAt) + '"chain":[' + chain.join(',') + '],'
 *        + lite.slice(chainAt, asDerAt) + '"as_der":"' + base64(leafDer) + '",' + lite.slice(asDerAt)
 *   domains = '{"data":' + lite.slice(chainAt + LEAF_DOMAINS_KEY.length, asDerAt - 1) + ',"message_type":"dns_entries"}'
 *
 * Offsets are in string units (UTF-16), as `slice` takes them.
 */
export interface FrameParts {
  /** Each chain element's exact JSON text (`{"as_der":…}`), in chain order; the same string object for the same certificate while it is cached. */
  readonly chain: readonly string[];
  /** The leaf's DER (the certificate, or the pre-certificate of a precert entry). */
  readonly leafDer: Uint8Array;
  /** Where `"chain":[…],` goes in `lite`: right before `"leaf_cert":`. */
  readonly chainAt: number;
  /** Where the leaf's `"as_der":…,` goes in `lite`: right after the leaf's `"all_domains":[…],`. */
  readonly asDerAt: number;
  /** Where the leaf's fingerprint text (`XX:…:XX`, the SHA-1 of `leafDer`) starts in `lite`. */
  readonly fingerprintAt: number;
}

/** The text between `chainAt` and the leaf's all_domains array in `lite`. */
export const LEAF_DOMAINS_KEY = '"leaf_cert":{"all_domains":';
/** The key before the leaf's fingerprint text in its body. */
const FINGERPRINT_KEY = ',"fingerprint":"';

export interface RendererOptions {
  /** How many rendered chain certificates to keep, by fingerprint. Default 10_000. */
  chainCacheSize?: number;
  /** Byte budget of that cache (DER plus rendered JSON). Default 64 MiB. */
  chainCacheBytes?: number;
  /**
   * A cached chain certificate not used for this long is dropped, ms (default 600,000: 10 minutes). The
   * size and byte caps are for the firehose, where thousands of intermediates recur every few seconds; on
   * a quiet host the cache would otherwise keep every intermediate ever seen, for good.
   */
  chainCacheIdleMs?: number;
  /** Clock of that expiry, epoch ms (tests). Default Date.now. */
  now?: () => number;
}

interface SourceParts {
  /** `,"source":{"name":…,"url":…},"update_type":"` prefix pieces. */
  readonly source: string;
}

/**
 * Renders CT entries into certstream frames. One instance per process: it owns the chain-certificate
 * cache (about 5 KB per cached certificate, so the default 10,000 is at most ~50 MB; in practice the CT
 * ecosystem has a few thousand distinct intermediates). Synchronous and pure apart from that cache.
 */
export class Renderer {
  private readonly chainCacheSize: number;
  private readonly chainCacheBytes: number;
  private readonly chainCacheIdleMs: number;
  private readonly now: () => number;
  private chainCacheUsed = 0;
  private readonly chainCache = new Map<string, { der: Buffer; element: string; bytes: number; used: number }>();
  private readonly sources = new WeakMap<LogDescriptor, SourceParts>();

  constructor(options: RendererOptions = {}) {
    const size = options.chainCacheSize ?? 10_000;
    if (!Number.isInteger(size) || size < 0) throw new RangeError(`chainCacheSize must be a non-negative integer, got ${size}`);
    this.chainCacheSize = size;
    this.chainCacheBytes = options.chainCacheBytes ?? 64 * 1024 * 1024;
    this.chainCacheIdleMs = options.chainCacheIdleMs ?? 10 * 60_000;
    this.now = options.now ?? Date.now;
  }

  /** Number of chain certificates currently cached. */
  get cachedChainCerts(): number {
    return this.chainCache.size;
  }

  /**
   * Renders one entry.
   * @param log the log it came from (`data.source`, `cert_link`)
   * @param entry the decoded entry (leaf = the certificate, or the pre_certificate for precert entries)
   * @param seen epoch seconds (float) the entry was seen, for data.seen
   * @throws CertstreamError X509_ERR_NOT_A_CERT only when the leaf bytes are not a certificate at all;
   *   RENDER_ERR_TOO_LARGE when the leaf or chain is over the size limits (ct/size-limits.ts), so that no
   *   frame is ever built without a bound
   */
  render(log: LogDescriptor, entry: CtEntry, seen: number): RenderedFrames {
    const oversize = entryOversize(entry.leaf, entry.chain);
    if (oversize !== undefined) throw new CertstreamError('RENDER_ERR_TOO_LARGE', `entry ${entry.index}: ${oversize}`);
    const leaf = renderDer(entry.leaf);
    const domainsJson = jsonStringArray(leaf.allDomains);
    const head =
      '{"data":{"cert_index":' + entry.index + ',"cert_link":' + jsonString(certLink(log, entry.index)) + ',';
    const leafHead = LEAF_DOMAINS_KEY + domainsJson + ',';
    const tail =
      ',"seen":' + erlangFloat(seen) + this.sourceOf(log) +
      (entry.type === 'precert' ? 'PrecertLogEntry' : 'X509LogEntry') + '"},"message_type":"certificate_update"}';

    let chain = '"chain":[';
    const elements: string[] = [];
    for (let i = 0; i < entry.chain.length; i++) {
      const c = this.chainCert(entry.chain[i]);
      elements.push(c);
      chain += i === 0 ? c : ',' + c;
    }
    chain += '],';

    return {
      lite: head + leafHead + leaf.body + tail,
      full: head + chain + leafHead + leaf.asDerField + leaf.body + tail,
      domains: '{"data":' + domainsJson + ',"message_type":"dns_entries"}',
      allDomains: leaf.allDomains,
      parts: {
        chain: elements,
        leafDer: entry.leaf,
        chainAt: head.length,
        asDerAt: head.length + leafHead.length,
        // The leaf's body is its extensions (JSON, where a quote inside a string is escaped), then this key.
        fingerprintAt: head.length + leafHead.length + leaf.body.indexOf(FINGERPRINT_KEY) + FINGERPRINT_KEY.length,
      },
    };
  }

  private sourceOf(log: LogDescriptor): string {
    let s = this.sources.get(log);
    if (s === undefined) {
      s = { source: ',"source":{"name":' + jsonString(log.name) + ',"url":' + jsonString(log.url) + '},"update_type":"' };
      this.sources.set(log, s);
    }
    return s.source;
  }

  /**
   * A chain certificate's JSON element (`{"as_der":…}`), rendered once. The cache is keyed by the certificate's last 32 bytes (inside its
   * signature) plus its length, and a hit counts only when the whole DER is byte-identical to the cached
   * one, so it is exact like a fingerprint key but costs no hashing per entry.
   */
  private chainCert(der: Uint8Array): string {
    if (this.chainCacheSize === 0) return chainElement(renderDer(der, true));
    const bytes = asBuffer(der);
    const key = bytes.length + bytes.toString('latin1', Math.max(0, bytes.length - 32));
    const now = this.now();
    const hit = this.chainCache.get(key);
    if (hit !== undefined && hit.der.equals(bytes)) {
      // LRU: move to the most recent end.
      this.chainCache.delete(key);
      this.chainCache.set(key, hit);
      hit.used = now;
      this.expireChainCerts(now);
      return hit.element;
    }
    const element = chainElement(renderDer(der, true));
    if (hit !== undefined) {
      this.chainCache.delete(key);
      this.chainCacheUsed -= hit.bytes;
    }
    // DER copy + the rendered strings (as_der is base64, the body a few times the name sizes): ~2 bytes per char.
    const size = bytes.length + 2 * element.length;
    this.chainCache.set(key, { der: Buffer.from(bytes), element, bytes: size, used: now });
    this.chainCacheUsed += size;
    while (this.chainCache.size > this.chainCacheSize || (this.chainCacheUsed > this.chainCacheBytes && this.chainCache.size > 1)) {
      this.dropOldestChainCert();
    }
    this.expireChainCerts(now);
    return element;
  }

  /** Drops the least recently used certificates that have not been used for chainCacheIdleMs. */
  private expireChainCerts(now: number): void {
    for (const old of this.chainCache.values()) {
      if (now - old.used <= this.chainCacheIdleMs) return;
      this.dropOldestChainCert();
    }
  }

  private dropOldestChainCert(): void {
    const [oldest, old] = this.chainCache.entries().next().value as [string, { bytes: number }];
    this.chainCache.delete(oldest);
    this.chainCacheUsed -= old.bytes;
  }
}

/** A chain certificate as an element of `"chain":[…]`. */
function chainElement(c: RenderedCert): string {
  return '{' + c.asDerField + c.body;
}
