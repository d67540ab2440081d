/**
 * The edge side of chain references (stream-message.ts): turns a decoded entry message into its whole
 * record, fetching each chain certificate it does not hold yet from the certificates stream (the newest
 * message on `<stream>.cert.<hash>`) into a cache bounded in bytes.
 *
 * A fetched certificate is used only when its text hashes to the reference, so a reference never yields
 * a wrong frame: one that cannot be had (missing, a copy that does not match, NATS not answering after a
 * few tries) makes the entry unresolved — the caller counts it as lost, like any other NATS loss.
 */
import type { JetStreamManager } from '@nats-io/jetstream';
import { sleep } from '../ct/backoff.js';
import { describeError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { RateLimitedLog } from '../log/rate-limited.js';
import type { NatsMetrics } from './nats-metrics.js';
import { certHash, recordWithChain, type DecodedMessage } from './stream-message.js';
import { certsStreamName, certSubject } from './stream-setup.js';

/** Tries of a fetch NATS did not answer (a missing certificate is not tried again). */
const FETCH_TRIES = 3;

export interface CertResolverOptions {
  jsm: JetStreamManager;
  /** The entries stream's name. */
  stream: string;
  metrics: NatsMetrics;
  logger: Logger;
  /** Bytes of certificate text kept (default 16 MiB: a few thousand distinct intermediates). */
  cacheBytes?: number;
  /** Pause between tries of a fetch NATS did not answer, ms (default 250, doubled each try). */
  retryMs?: number;
}

/** A message's record (and the entry, when it was rebuilt: stream-message.ts recordWithChain), or why there is none. */
export type Resolved = ReturnType<typeof recordWithChain> | { unresolved: string };

export class CertResolver {
  /** Certificate text by hash, least recently used first. */
  private readonly cache = new Map<string, string>();
  private cachedBytes = 0;
  private readonly cacheMax: number;
  private readonly fetching = new Map<string, Promise<string | undefined>>();
  private readonly errorLog: RateLimitedLog;
  private readonly stop = new AbortController();

  constructor(private readonly options: CertResolverOptions) {
    this.cacheMax = options.cacheBytes ?? 16 * 1024 * 1024;
    this.errorLog = new RateLimitedLog(options.logger);
  }

  /** The whole record of `message`: at once when every certificate it refers to is cached. */
  resolve(message: DecodedMessage): Resolved | Promise<Resolved> {
    const elements: string[] = [];
    for (const hash of message.hashes) {
      const text = this.cached(hash);
      if (text === undefined) return this.fetchAndResolve(message);
      elements.push(text);
    }
    return recordWithChain(message, elements);
  }

  /** Stops retries under way (their entries come back unresolved). */
  close(): void {
    this.stop.abort();
  }

  private cached(hash: string): string | undefined {
    const text = this.cache.get(hash);
    if (text !== undefined) {
      this.cache.delete(hash);
      this.cache.set(hash, text);
    }
    return text;
  }

  private async fetchAndResolve(message: DecodedMessage): Promise<Resolved> {
    const elements = await Promise.all(message.hashes.map((hash) => this.cached(hash) ?? this.fetchOnce(hash)));
    const missing = message.hashes.filter((_, k) => elements[k] === undefined);
    if (missing.length > 0) return { unresolved: `chain certificate${missing.length > 1 ? 's' : ''} ${missing.join(', ')} not found` };
    return recordWithChain(message, elements as string[]);
  }

  /** One fetch per hash at a time, however many entries wait for it. */
  private fetchOnce(hash: string): Promise<string | undefined> {
    let pending = this.fetching.get(hash);
    if (pending === undefined) {
      pending = this.fetch(hash).finally(() => this.fetching.delete(hash));
      this.fetching.set(hash, pending);
    }
    return pending;
  }

  private async fetch(hash: string): Promise<string | undefined> {
    const { jsm, stream, metrics } = this.options;
    for (let attempt = 1; ; attempt++) {
      try {
        const m = await jsm.streams.getMessage(certsStreamName(stream), { last_by_subj: certSubject(stream, hash) });
        const text = m === null ? undefined : Buffer.from(m.data).toString('utf8');
        if (text !== undefined && certHash(text) === hash) {
          metrics.certFetches.inc({ result: 'found' });
          this.remember(hash, text);
          return text;
        }
        metrics.certFetches.inc({ result: 'missing' });
        this.errorLog.log('error', 'cert-missing', 'chain certificate of a stream entry not found (or not matching its hash); the entries referring to it are lost and counted', { hash, found: text !== undefined });
        return undefined;
      } catch (err) {
        if (attempt >= FETCH_TRIES || this.stop.signal.aborted) {
          metrics.certFetches.inc({ result: 'error' });
          this.errorLog.log('error', 'cert-fetch', 'cannot fetch a chain certificate of a stream entry; the entries referring to it are lost and counted', { hash, error: describeError(err) });
          return undefined;
        }
        await sleep((this.options.retryMs ?? 250) * 2 ** (attempt - 1), this.stop.signal);
      }
    }
  }

  private remember(hash: string, text: string): void {
    if (this.cache.has(hash)) return;
    this.cache.set(hash, text);
    this.cachedBytes += 2 * text.length;
    for (const [old, oldText] of this.cache) {
      if (this.cachedBytes <= this.cacheMax || this.cache.size <= 1) break;
      this.cache.delete(old);
      this.cachedBytes -= 2 * oldText.length;
    }
  }
}
