/**
 * Follows a JetStream stream from a sequence on, for as long as it is open: an ordered consumer whose
 * messages go to a handler in stream order, re-subscribed after failures and reconnections, paced by
 * the hub's room, with what the client library does on its own (missed heartbeats, a recreated
 * consumer) logged. What the messages mean (entries, gaps, a stream that started over) is the
 * handler's business (jetstream-window.ts).
 */
import type { ConsumerMessages, JetStreamClient, JsMsg } from '@nats-io/jetstream';
import { backoffDelay, sleep, untilSettledOrAborted } from '../ct/backoff.js';
import { describeError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { RateLimitedLog } from '../log/rate-limited.js';
import { isStreamNotFound } from './stream-guard.js';

/** What the tail hands its messages to. */
export interface TailHandler {
  /**
   * A message at or past the seq the tail expected (`missed` seqs before it cannot be had: trimmed, or
   * lost with the stream). A promise holds the tail until it settles.
   */
  message(m: JsMsg, missed: number): void | Promise<void>;
  /** A message below the seq the tail expected: the stream started over. The handler calls restartAt. */
  wentBack(seq: number, expected: number): void;
  /** Hand on what was staged: before the tail pauses for room, and when it stops. */
  flush(): void;
}

export interface StreamTailOptions {
  js: JetStreamClient;
  stream: string;
  /** The stream seq read first. */
  from: number;
  handler: TailHandler;
  logger: Logger;
  /**
   * Consumer pacing (the hub's roomForIngest): the tail reads on only when this is undefined or has
   * resolved, so a burst (a catch-up after NATS was away) reaches plain clients at the pace they read
   * rather than past their buffers.
   */
  room?: () => Promise<void> | undefined;
  /** Subscribes to reconnections (NatsLink.onReconnect): the tail then resubscribes at once. */
  onReconnect?: (listener: () => void) => () => void;
}

/** Statuses of the consumer that pause the stream for this edge's clients. */
const PAUSING_STATUSES = new Set(['heartbeats_missed', 'ordered_consumer_recreated', 'reset', 'consumer_not_found', 'no_responders']);

export class StreamTail {
  /** The stream seq read next. */
  private from: number;
  /** Counts restarts: a subscription from before one stops taking messages. */
  private epoch = 0;
  private messages: ConsumerMessages | undefined;
  private readonly stop = new AbortController();
  private readonly errorLog: RateLimitedLog;
  private readonly running: Promise<void>;

  constructor(private readonly options: StreamTailOptions) {
    this.from = options.from;
    this.errorLog = new RateLimitedLog(options.logger);
    this.running = this.run();
  }

  /** The stream seq the tail reads next. */
  get nextSeq(): number {
    return this.from;
  }

  /** Drops the current subscription and reads on from stream seq `seq` (the stream started over). */
  restartAt(seq: number): void {
    this.from = seq;
    this.epoch++;
    this.messages?.stop();
  }

  /** Stops following; resolves once the last staged messages were flushed. */
  async close(): Promise<void> {
    this.stop.abort();
    await this.running;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stop.signal.aborted) {
      try {
        await this.follow(() => (failures = 0));
      } catch (err) {
        if (this.stop.signal.aborted) break;
        // A missing stream comes back when an ingest node re-creates it (within seconds): retried often.
        const wait = backoffDelay(++failures, { baseMs: 250, maxMs: isStreamNotFound(err) ? 2000 : 10_000 });
        this.errorLog.log('warn', 'tail', 'stream tail interrupted; resubscribing', { error: describeError(err), from_seq: this.from, retry_in_ms: wait });
        await sleep(wait, this.stop.signal);
      }
    }
    this.options.handler.flush();
  }

  /** One subscription, from `from` until it ends (stopped, failed, or restarted). */
  private async follow(received: () => void): Promise<void> {
    const { js, stream, handler } = this.options;
    const epoch = this.epoch;
    const consumer = await js.consumers.get(stream, { deliver_policy: 'by_start_sequence', opt_start_seq: this.from });
    // Short pulls and frequent idle heartbeats: a pull the server no longer holds (after a long pause for
    // room, a restart, or a renewal that lapsed under load — seen stalling an edge 2-5 s in the scale-out
    // benchmark) is noticed after two missed heartbeats, half a second, and renewed.
    const messages = await consumer.consume({ max_messages: 1024, expires: 2000, idle_heartbeat: 250 });
    if (epoch !== this.epoch || this.stop.signal.aborted) {
      // Restarted while subscribing: subscribe again from where the restart says.
      await messages.close();
      return;
    }
    this.messages = messages;
    const onAbort = () => messages.stop();
    this.stop.signal.addEventListener('abort', onAbort, { once: true });
    // After a reconnection the pull request may be gone with the server that had it, and the consumer
    // would wait out its expiry: stop it, and the loop subscribes again from `from`.
    const offReconnect = this.options.onReconnect?.(() => messages.stop());
    void this.watchStatus(messages);
    try {
      for await (const m of messages) {
        received();
        if (epoch !== this.epoch) break;
        if (m.seq < this.from) {
          handler.wentBack(m.seq, this.from);
          break;
        }
        const missed = m.seq - this.from;
        this.from = m.seq + 1;
        const handled = handler.message(m, missed);
        if (handled !== undefined) await untilSettledOrAborted(handled, this.stop.signal);
        const wait = this.options.room?.();
        if (wait !== undefined) {
          handler.flush();
          const pausedAt = Date.now();
          await untilSettledOrAborted(wait, this.stop.signal);
          // Paused longer than a pull lives: its pulls may have lapsed without a new one. Resubscribe.
          if (Date.now() - pausedAt > 1000) messages.stop();
        }
      }
    } finally {
      if (this.messages === messages) this.messages = undefined;
      this.stop.signal.removeEventListener('abort', onAbort);
      offReconnect?.();
    }
  }

  /** Logs what the client library does on its own: each of these is a pause of the stream for this edge's clients. */
  private async watchStatus(messages: ConsumerMessages): Promise<void> {
    try {
      for await (const n of messages.status()) {
        if (PAUSING_STATUSES.has(n.type)) this.errorLog.log('warn', `tail-${n.type}`, `stream tail: ${n.type.replace(/_/g, ' ')}`, { ...n, from_seq: this.from });
      }
    } catch {
      // The status iterator ends with the subscription.
    }
  }
}
