/**
 * What the entries stream already holds at its end, per log: read once when an ingest node starts, so
 * that it does not store again what it published before it went down. JetStream leaves out a message id
 * it has seen only within the duplicate window (two minutes); a node down for longer resumes from a
 * cursor up to a flush period old, and without this would store those entries a second time (a durable
 * client replaying across them would see an index twice within one connection).
 *
 * Only headers are read (the message id `<log>#<index>` says everything needed), from the stream's last
 * `maxMessages` messages: at 2,000 entries/s the default covers the last half minute of every log, far
 * more than a cursor can be behind.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { CertstreamError, describeError } from '../errors.js';

/** Messages read from the stream's end (headers only, about 150 bytes each). */
export const TAIL_SCAN_MESSAGES = 65_536;

/** The log and index of a message id `<log>#<index>`, or undefined for any other id. */
export function parseMessageId(id: string): { log: string; index: number } | undefined {
  const at = id.lastIndexOf('#');
  if (at <= 0) return undefined;
  const index = Number(id.slice(at + 1));
  return Number.isSafeInteger(index) && index >= 0 ? { log: id.slice(0, at), index } : undefined;
}

/**
 * Per log, the highest index among the stream's last `maxMessages` messages.
 * @throws CertstreamError NATS_ERR_STREAM when the stream cannot be read
 */
export async function lastIndexes(nc: NatsConnection, stream: string, maxMessages = TAIL_SCAN_MESSAGES): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  try {
    const jsm = await jetstreamManager(nc, { timeout: 10_000 });
    const { state } = await jsm.streams.info(stream);
    if (state.messages === 0) return out;
    const start = Math.max(state.first_seq, state.last_seq - maxMessages + 1);
    const consumer = await jetstream(nc).consumers.get(stream, { deliver_policy: 'by_start_sequence', opt_start_seq: start, headers_only: true });
    let seq = start - 1;
    while (seq < state.last_seq) {
      const batch = await consumer.fetch({ max_messages: Math.min(4096, state.last_seq - seq), expires: 5000 });
      let got = 0;
      for await (const m of batch) {
        got++;
        seq = m.seq;
        const id = m.headers?.get('Nats-Msg-Id');
        const key = id === undefined ? undefined : parseMessageId(id);
        if (key !== undefined && key.index > (out.get(key.log) ?? -1)) out.set(key.log, key.index);
      }
      // Trimmed or deleted under the scan: what is left of it is read.
      if (got === 0) break;
    }
    return out;
  } catch (err) {
    throw new CertstreamError('NATS_ERR_STREAM', `cannot read the end of JetStream stream ${stream}: ${describeError(err)}`, { cause: err });
  }
}
