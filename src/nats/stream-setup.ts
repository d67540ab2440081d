/**
 * The JetStream objects the scale-out mode uses, created when missing: the stream that is the replay
 * window (one message per entry, file storage, kept for --replay-window and at most
 * --replay-window-bytes, de-duplicated on the message id) and two key-value buckets, the ingest
 * cursors and the durable client positions.
 */
import { nanos, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager, type StreamConfig, type StreamInfo } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { CertstreamError, describeError } from '../errors.js';

/** The subject every entry is published on. */
export function entriesSubject(stream: string): string {
  return `${stream}.entries`;
}

/**
 * The stream of chain certificates (stream-message.ts): one message per distinct certificate, on
 * `<stream>.cert.<sha256 hex>`, only the newest copy of each kept.
 */
export function certsStreamName(stream: string): string {
  return `${stream}_certs`;
}

/** The subject of a chain certificate: its hash is the subject's last token. */
export function certSubject(stream: string, hash: string): string {
  return `${stream}.cert.${hash}`;
}

/**
 * How often the ingest publishes a chain certificate it still refers to again, as a share of the
 * window: a certificate's stored copy is then never older than half the window when an entry refers to
 * it (each publication replaces the copy: one message per subject, no message id), and the certificates
 * stream keeps a copy for twice the window, so every copy an entry refers to outlives the entry (which
 * lives at most the window).
 */
export function certRefreshMs(maxAgeMs: number): number {
  return maxAgeMs / 2;
}

/** The JetStream message id of an entry: fixed by the contract, what makes two ingest nodes store it once. */
export function messageId(log: string, index: number): string {
  return `${log}#${index}`;
}

/**
 * How long JetStream remembers message ids. Two ingest nodes publish the same entry within moments of
 * each other, a restarted node resumes from the cluster's cursor (at most a flush period old), and
 * anything older than the cluster's cursor is not published at all (nats/jetstream-publisher.ts): two
 * minutes covers a failover and a NATS outage's resend with a wide margin. Each id costs the server
 * memory (about 240,000 ids at 2,000 entries/s), which is why it is not the whole window.
 */
export const DUPLICATE_WINDOW_MS = 120_000;

export interface StreamLimits {
  name: string;
  /** --replay-window, ms. */
  maxAgeMs: number;
  /** --replay-window-bytes. */
  maxBytes: number;
  /** --nats-replicas (default 1). */
  replicas?: number;
}

function isNotFound(err: unknown): boolean {
  return (err as { code?: unknown }).code === '404' || /not found/i.test(String(err));
}

/** The stream's configuration for these limits. */
export function streamConfig(limits: StreamLimits): Partial<StreamConfig> & { name: string } {
  return {
    name: limits.name,
    subjects: [entriesSubject(limits.name)],
    storage: 'file',
    retention: 'limits',
    discard: 'old',
    max_age: nanos(limits.maxAgeMs),
    max_bytes: limits.maxBytes,
    duplicate_window: nanos(Math.min(DUPLICATE_WINDOW_MS, limits.maxAgeMs)),
    num_replicas: limits.replicas ?? 1,
  };
}

/** Byte cap of the certificates stream (about 40,000 chain certificates). */
export const CERTS_MAX_BYTES = 256 * 1024 * 1024;

/** The certificates stream's configuration for the entries stream's limits (see certRefreshMs). */
export function certsStreamConfig(limits: StreamLimits): Partial<StreamConfig> & { name: string } {
  return {
    name: certsStreamName(limits.name),
    subjects: [certSubject(limits.name, '*')],
    storage: 'file',
    retention: 'limits',
    discard: 'old',
    max_msgs_per_subject: 1,
    max_age: nanos(2 * limits.maxAgeMs),
    // Distinct chain certificates are a few thousand of a few KB: a cap far below the entries stream's,
    // whose size a server's max_file_store must hold once more per stream placed on it (a 3 GB store
    // could not place two 2 GiB streams: "insufficient storage").
    max_bytes: Math.min(limits.maxBytes, CERTS_MAX_BYTES),
    duplicate_window: nanos(Math.min(DUPLICATE_WINDOW_MS, limits.maxAgeMs)),
    num_replicas: limits.replicas ?? 1,
  };
}

/**
 * Creates the entries stream and the certificates stream, or brings existing ones' limits to these (the
 * window is the operator's flag, the last node started sets it).
 * @throws CertstreamError NATS_ERR_STREAM when JetStream refuses (not enabled, a subject clash…)
 */
export async function ensureStream(nc: NatsConnection, limits: StreamLimits): Promise<StreamInfo> {
  const jsm = await jetstreamManager(nc, { timeout: 10_000 });
  await ensureOne(jsm, certsStreamConfig(limits));
  return ensureOne(jsm, streamConfig(limits));
}

async function ensureOne(jsm: JetStreamManager, wanted: Partial<StreamConfig> & { name: string }): Promise<StreamInfo> {
  try {
    const info = await jsm.streams.info(wanted.name).catch((err: unknown) => {
      if (isNotFound(err)) return undefined;
      throw err;
    });
    if (info === undefined) return await jsm.streams.add(wanted);
    const c = info.config;
    // Replicas only go up: an operator who raised them by hand keeps them.
    const replicas = Math.max(c.num_replicas, wanted.num_replicas ?? 1);
    if (c.max_age !== wanted.max_age || c.max_bytes !== wanted.max_bytes || c.duplicate_window !== wanted.duplicate_window || c.num_replicas !== replicas) {
      return await jsm.streams.update(wanted.name, { ...c, max_age: wanted.max_age, max_bytes: wanted.max_bytes, duplicate_window: wanted.duplicate_window, num_replicas: replicas });
    }
    return info;
  } catch (err) {
    throw new CertstreamError('NATS_ERR_STREAM', `cannot create or update JetStream stream ${wanted.name}: ${describeError(err)}`, { cause: err });
  }
}

/** Opens (creating when missing) the key-value bucket `<stream>_<what>`. */
export async function openBucket(nc: NatsConnection, stream: string, what: 'cursors' | 'positions', replicas = 1): Promise<KV> {
  const name = `${stream}_${what}`;
  try {
    // An existing bucket is opened as it is (an operator may have raised its replicas); only a missing one is created.
    const jsm = await jetstreamManager(nc, { timeout: 10_000 });
    const exists = await jsm.streams.info(`KV_${name}`).then(() => true, (err: unknown) => {
      if (isNotFound(err)) return false;
      throw err;
    });
    const kvm = new Kvm(nc);
    return exists ? await kvm.open(name) : await kvm.create(name, { history: 1, storage: 'file', replicas });
  } catch (err) {
    throw new CertstreamError('NATS_ERR_STREAM', `cannot create or open JetStream key-value bucket ${name}: ${describeError(err)}`, { cause: err });
  }
}

/** A key-value key for any string (URLs and names hold characters keys may not): base64url. */
export function bucketKey(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}

/** The string a bucketKey was made from. */
export function fromBucketKey(key: string): string {
  return Buffer.from(key, 'base64url').toString('utf8');
}

/**
 * Makes a stream that was just created (empty) start at `firstSeq`: a purge up to a sequence past the
 * end moves an empty stream's first sequence there. A stream that holds messages already (another node
 * re-created it and published meanwhile) is left alone: a purge would delete them.
 */
async function continueAt(nc: NatsConnection, name: string, firstSeq: number): Promise<void> {
  if (firstSeq <= 1) return;
  const jsm = await jetstreamManager(nc, { timeout: 10_000 });
  const info = await jsm.streams.info(name);
  if (info.state.messages > 0 || info.state.last_seq >= firstSeq - 1) return;
  await jsm.streams.purge(name, { seq: firstSeq });
}

/**
 * Creates the entries stream again after it was lost, its sequence numbers continuing at `firstSeq`, so
 * that an edge's delivered seq and the durable positions saved before keep meaning the same entries.
 * @throws CertstreamError NATS_ERR_STREAM
 */
export async function recreateStream(nc: NatsConnection, limits: StreamLimits, firstSeq: number): Promise<void> {
  await ensureStream(nc, limits);
  try {
    await continueAt(nc, limits.name, firstSeq);
  } catch (err) {
    throw new CertstreamError('NATS_ERR_STREAM', `cannot continue JetStream stream ${limits.name} at seq ${firstSeq}: ${describeError(err)}`, { cause: err });
  }
}

/**
 * Creates a key-value bucket again after it was lost: its revisions continue at `firstSeq` (the cursor
 * and position stores compare revisions, and keep a newer one over an older) and it gets back the
 * values this node last saw in it (`values`, by key), so that a store updating a key by revision finds
 * the key again.
 * @throws CertstreamError NATS_ERR_STREAM
 */
export async function recreateBucket(nc: NatsConnection, stream: string, what: 'cursors' | 'positions', replicas: number | undefined, firstSeq: number, values: ReadonlyMap<string, string>): Promise<void> {
  const kv = await openBucket(nc, stream, what, replicas);
  try {
    await continueAt(nc, `KV_${stream}_${what}`, firstSeq);
    for (const [key, value] of values) {
      // Only where no node saved a value since: a newer one stays.
      await kv.create(key, value).catch(() => undefined);
    }
  } catch (err) {
    throw new CertstreamError('NATS_ERR_STREAM', `cannot restore JetStream key-value bucket ${stream}_${what}: ${describeError(err)}`, { cause: err });
  }
}
