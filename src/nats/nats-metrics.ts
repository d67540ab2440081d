/**
 * The scale-out mode's metrics, registered on the daemon's one registry (only with --nats): the link to
 * NATS, what the ingest published, and how far an edge's tail is behind the stream.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export interface NatsMetrics {
  /** certstream_nats_connected: 1 while connected to a NATS server. */
  readonly connected: Gauge;
  /** certstream_nats_reconnects_total */
  readonly reconnects: Counter;
  /** certstream_nats_published_total{result}: acknowledged publishes, stored or de-duplicated by JetStream. */
  readonly published: Counter<'result'>;
  /** certstream_nats_publish_errors_total: publish attempts that failed (they are retried in order). */
  readonly publishErrors: Counter;
  /** certstream_nats_publish_pending: entries handed to the publisher and not yet acknowledged. */
  readonly publishPending: Gauge;
  /** certstream_nats_peer_skipped_total: entries not published because the cluster's cursor was past them. */
  readonly peerSkipped: Counter;
  /** certstream_nats_stream_last_seq */
  readonly streamLastSeq: Gauge;
  /** certstream_nats_delivered_seq: last stream seq this edge handed to its clients. */
  readonly deliveredSeq: Gauge;
  /** certstream_nats_consumer_lag: stream messages this edge has not handed to its clients yet. */
  readonly consumerLag: Gauge;
  /** certstream_nats_tail_gaps_total: stream seqs this edge's tail never received (trimmed before it got them). */
  readonly tailGaps: Counter;
  /**
   * certstream_nats_kv_watch_restarts_total{bucket}: watches of a key-value bucket (the cluster's cursors,
   * the durable positions) that ended on their own and were started again (nats/kv-mirror.ts).
   */
  readonly kvWatchRestarts: Counter<'bucket'>;
  /** certstream_nats_streams_lost_total{stream}: a stream or bucket found missing or re-created (store wiped, deleted). */
  readonly streamsLost: Counter<'stream'>;
  /** certstream_nats_stream_resets_total: times this edge found the stream started over below what it had delivered. */
  readonly streamResets: Counter;
  /**
   * certstream_nats_skipped_messages_total{path}: stream messages skipped: not entries (`tail`, `replay`), or
   * an entry the tail handed on already, stored again after the stream was lost (`repeat`).
   */
  readonly skippedMessages: Counter<'path'>;
  /**
   * certstream_nats_chain_certs_published_total: chain certificates the ingest published as their own
   * messages (new to it, or again before the stream forgets them).
   */
  readonly certsPublished: Counter;
  /**
   * certstream_nats_chain_cert_fetches_total{result}: chain certificates an edge fetched for the entries
   * referring to them: found, missing (or not matching its hash), error (NATS did not answer).
   */
  readonly certFetches: Counter<'result'>;
  /** certstream_nats_already_stored_total: entries not published because the stream already held them (found at start). */
  readonly alreadyStored: Counter;
}

export function createNatsMetrics(registry: Registry): NatsMetrics {
  const registers = [registry];
  const metrics: NatsMetrics = {
    connected: new Gauge({ name: 'certstream_nats_connected', help: '1 while connected to a NATS server, else 0.', registers }),
    reconnects: new Counter({ name: 'certstream_nats_reconnects_total', help: 'Reconnections to NATS after a lost connection.', registers }),
    published: new Counter({
      name: 'certstream_nats_published_total',
      help: 'Entries JetStream acknowledged, by result: stored, or duplicate (another ingest node or a resend had stored it).',
      labelNames: ['result'] as const,
      registers,
    }),
    publishErrors: new Counter({ name: 'certstream_nats_publish_errors_total', help: 'Publish attempts that failed; they are retried in order.', registers }),
    publishPending: new Gauge({ name: 'certstream_nats_publish_pending', help: 'Entries handed to the JetStream publisher and not yet acknowledged.', registers }),
    peerSkipped: new Counter({
      name: 'certstream_nats_peer_skipped_total',
      help: "Entries not published because the cluster's cursor was already past them (another ingest node published them).",
      registers,
    }),
    streamLastSeq: new Gauge({ name: 'certstream_nats_stream_last_seq', help: 'Last sequence number of the JetStream stream.', registers }),
    deliveredSeq: new Gauge({ name: 'certstream_nats_delivered_seq', help: "Last stream sequence this edge handed to its clients.", registers }),
    consumerLag: new Gauge({ name: 'certstream_nats_consumer_lag', help: 'Stream messages this edge has not handed to its clients yet.', registers }),
    tailGaps: new Counter({ name: 'certstream_nats_tail_gaps_total', help: "Stream sequences this edge's tail never received or could not deliver (trimmed before it read them, lost with a reset stream, not an entry).", registers }),
    streamsLost: new Counter({
      name: 'certstream_nats_streams_lost_total',
      help: 'JetStream streams and key-value buckets found missing or re-created (deleted, or the NATS store was lost), by stream.',
      labelNames: ['stream'] as const,
      registers,
    }),
    streamResets: new Counter({ name: 'certstream_nats_stream_resets_total', help: 'Times this edge found the stream started over below the sequence it had delivered, and re-read it from its first sequence.', registers }),
    skippedMessages: new Counter({
      name: 'certstream_nats_skipped_messages_total',
      help: 'Stream messages skipped: not entries of this format (another publisher, damage) by the live tail (tail) or a replay (replay), entries the tail had handed on already, stored again after the stream was lost (repeat), or entries whose chain certificates could not be had (unresolved).',
      labelNames: ['path'] as const,
      registers,
    }),
    certsPublished: new Counter({
      name: 'certstream_nats_chain_certs_published_total',
      help: 'Chain certificates published as their own messages (first use by this node, or again before the stream forgets them).',
      registers,
    }),
    certFetches: new Counter({
      name: 'certstream_nats_chain_cert_fetches_total',
      help: 'Chain certificates this edge fetched for the entries referring to them, by result: found, missing (or not matching its hash: those entries are lost and counted), error (NATS did not answer).',
      labelNames: ['result'] as const,
      registers,
    }),
    alreadyStored: new Counter({ name: 'certstream_nats_already_stored_total', help: 'Entries not published because the stream already held that log index (found in its tail at start).', registers }),
    kvWatchRestarts: new Counter({
      name: 'certstream_nats_kv_watch_restarts_total',
      help: "Watches of a key-value bucket (cursors, durable positions) that ended on their own and were started again; while one is down this node does not learn the other nodes' values.",
      labelNames: ['bucket'] as const,
      registers,
    }),
  };
  // Every series of a fixed label set exists from start-up at 0.
  for (const result of ['found', 'missing', 'error']) metrics.certFetches.inc({ result }, 0);
  for (const path of ['tail', 'replay', 'repeat', 'unresolved']) metrics.skippedMessages.inc({ path }, 0);
  return metrics;
}
