/**
 * A small, rate-limited sample of the certificates published, summarised for the dashboard: at the
 * 2026 firehose (about 2,000 certificates/s) no page can or should show every one, so at most
 * `perSecond` entries a second are kept (a token bucket, spread over each batch), parsed from their
 * lite frame, in a ring of `capacity`. Each kept entry gets a sequence number so a poller can ask
 * only for what is new. Cost on the publish path: a clock read per batch and one JSON.parse per kept
 * entry.
 */
import type { StreamFrames } from './fanout-hub.js';

/** One sampled certificate as the dashboard shows it. */
export interface SampledCert {
  /** Increasing from 1; `since(seq)` returns the newer ones. */
  seq: number;
  /** `data.seen`, epoch seconds. */
  seen: number;
  /** The log's description and url (`data.source`). */
  log: string;
  log_url: string;
  cert_index: number;
  precert: boolean;
  /** The first `MAX_DOMAINS` of `all_domains`. */
  domains: string[];
  /** How many `all_domains` the certificate has. */
  domain_count: number;
  /** The issuer's O and CN, joined unless CN already names O (what a person recognises: "Let's Encrypt R12"). */
  issuer: string;
}

export interface RecentSampleOptions {
  /** Entries kept per second at most (default 10). */
  perSecond?: number;
  /** Entries kept in the ring (default 200). */
  capacity?: number;
}

export const MAX_DOMAINS = 20;

export class RecentSample {
  readonly perSecond: number;
  private readonly capacity: number;
  private readonly ring: SampledCert[] = [];
  private seq = 0;
  private tokens: number;
  private refilledAtMs = -Infinity;
  /** Entries offered (published) and entries that could not be summarised (not JSON as expected). */
  offered = 0;
  unreadable = 0;

  constructor(options: RecentSampleOptions = {}) {
    this.perSecond = options.perSecond ?? 10;
    this.capacity = options.capacity ?? 200;
    if (!(this.perSecond > 0) || !Number.isInteger(this.capacity) || this.capacity < 1) {
      throw new RangeError(`RecentSample: perSecond must be > 0 and capacity a positive integer (got ${this.perSecond}, ${this.capacity})`);
    }
    this.tokens = this.perSecond;
  }

  /** Offers one published batch (ascending `cert_index`, as streamed), at `nowMs` (epoch ms). */
  offer(frames: readonly StreamFrames[], nowMs: number): void {
    if (frames.length === 0) return;
    this.offered += frames.length;
    const elapsed = Math.max(0, nowMs - this.refilledAtMs);
    this.tokens = Math.min(this.perSecond, this.tokens + (elapsed * this.perSecond) / 1000);
    this.refilledAtMs = nowMs;
    const take = Math.min(Math.floor(this.tokens), frames.length);
    if (take === 0) return;
    this.tokens -= take;
    // Spread over the batch rather than its first entries: a batch is one log's consecutive run.
    const step = frames.length / take;
    for (let i = 0; i < take; i++) this.keep(frames[Math.floor(i * step)].lite);
  }

  /** Kept entries with `seq` above `after` (default: all kept), oldest first. */
  since(after = 0): SampledCert[] {
    if (this.ring.length === 0 || this.ring[this.ring.length - 1].seq <= after) return [];
    const first = this.ring.findIndex((c) => c.seq > after);
    return this.ring.slice(first);
  }

  /** The sequence number of the newest kept entry (0 when none). */
  get lastSeq(): number {
    return this.seq;
  }

  private keep(lite: string): void {
    const cert = summarise(lite, this.seq + 1);
    if (cert === undefined) {
      this.unreadable++;
      return;
    }
    this.seq = cert.seq;
    this.ring.push(cert);
    if (this.ring.length > this.capacity) this.ring.shift();
  }
}

interface LiteFrame {
  data?: {
    seen?: unknown;
    cert_index?: unknown;
    update_type?: unknown;
    source?: { name?: unknown; url?: unknown };
    leaf_cert?: { all_domains?: unknown; issuer?: { O?: unknown; CN?: unknown } };
  };
}

/** The dashboard's summary of a lite `certificate_update` frame, or undefined when it is not one. */
export function summarise(lite: string, seq: number): SampledCert | undefined {
  let frame: LiteFrame;
  try {
    frame = JSON.parse(lite) as LiteFrame;
  } catch {
    return undefined;
  }
  const d = frame.data;
  if (!d || typeof d.cert_index !== 'number') return undefined;
  const all = Array.isArray(d.leaf_cert?.all_domains) ? d.leaf_cert.all_domains.filter((x): x is string => typeof x === 'string') : [];
  const issuer = d.leaf_cert?.issuer;
  const o = typeof issuer?.O === 'string' ? issuer.O : '';
  const cn = typeof issuer?.CN === 'string' ? issuer.CN : '';
  return {
    seq,
    seen: typeof d.seen === 'number' ? d.seen : 0,
    log: typeof d.source?.name === 'string' ? d.source.name : '',
    log_url: typeof d.source?.url === 'string' ? d.source.url : '',
    cert_index: d.cert_index,
    precert: d.update_type === 'PrecertLogEntry',
    domains: all.slice(0, MAX_DOMAINS),
    domain_count: all.length,
    // "Let's Encrypt R12", but "Amazon ECDSA 384 M01" rather than "Amazon Amazon ECDSA 384 M01".
    issuer: cn.startsWith(o) ? cn : o === '' || cn === '' ? o + cn : `${o} ${cn}`,
  };
}
