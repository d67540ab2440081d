/**
 * Watches the JetStream streams a node depends on (the entries stream, a key-value bucket's stream) for
 * being lost: deleted by hand, or gone with a NATS store that was wiped while the server was down. The
 * client library reconnects to such a server as if nothing happened; publishes then fail with a
 * misleading "jetstream is not enabled", consumers wait for messages that never come, and the node
 * would look healthy while delivering nothing.
 *
 * Each stream's info is read every `intervalMs` and at once after every reconnection. A stream that is
 * missing is re-created by the node that owns it (`recreate`), continuing the old sequence numbers where
 * it knows them, so that positions and revisions saved before keep their meaning; a stream whose
 * creation time changed was re-created (by this node or another). Both are `problems()` for /healthz:
 * while missing, and for RESET_NOTICE_MS after it came back (what it held is gone, which an operator
 * should see even when the re-creation took a second).
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { describeError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { NatsMetrics } from './nats-metrics.js';

/** How long /healthz keeps saying that a stream was lost and re-created, ms. */
export const RESET_NOTICE_MS = 60_000;

/** How soon a check that could not finish after a reconnection is tried again, ms. */
const RECHECK_MS = 250;

export interface GuardedStream {
  /** The JetStream stream's name (`KV_<bucket>` for a key-value bucket). */
  readonly name: string;
  /** What logs and /healthz call it ("stream CERTSTREAM", "key-value bucket CERTSTREAM_cursors"). */
  readonly label: string;
  /**
   * Creates it again, its first sequence `firstSeq` (1 + the last sequence this node knew of). Without
   * it this node only reports the stream missing (another role re-creates it).
   */
  readonly recreate?: (nc: NatsConnection, firstSeq: number) => Promise<void>;
  /** The last sequence this node knows of besides the info it reads (a publisher's acknowledgements). */
  readonly knownLastSeq?: () => number;
}

export interface StreamGuardOptions {
  metrics: NatsMetrics;
  logger: Logger;
  /** Check period, ms (default 2000: a loss is noticed well within 10 s). */
  intervalMs?: number;
  /** Epoch ms (tests). */
  now?: () => number;
}

interface Watch {
  readonly stream: GuardedStream;
  /** The stream's creation time as last read (`info.created`): a different one means it was re-created. */
  created: string | undefined;
  lastSeq: number;
  missingSince: number | undefined;
  recreatedAt: number | undefined;
  recreateError: string | null;
}

/** Whether a JetStream API error says the stream does not exist (code 10059). */
export function isStreamNotFound(err: unknown): boolean {
  const e = err as { code?: unknown; name?: unknown };
  return e.code === 10059 || e.name === 'StreamNotFoundError';
}

export class StreamGuard {
  private readonly watches: Watch[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  /** Reconnections so far, and how many of them the last completed pass came after. */
  private reconnects = 0;
  private verified = 0;
  private reconnectedAt = 0;
  /** Passes begun after a reconnection get a new generation; an older pass changes nothing once it is stale. */
  private generation = 0;
  private closed = false;
  private readonly now: () => number;

  constructor(private readonly options: StreamGuardOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Watches one more stream (one that exists now: the node has just opened it); a name watched already is ignored. */
  add(stream: GuardedStream): void {
    if (this.watches.some((w) => w.stream.name === stream.name)) return;
    this.watches.push({ stream, created: undefined, lastSeq: 0, missingSince: undefined, recreatedAt: undefined, recreateError: null });
  }

  /** Checks now and every `intervalMs` on `nc` (the link's connection, which reconnects by itself). */
  start(nc: NatsConnection): void {
    if (this.closed || this.timer) return;
    this.timer = setInterval(() => void this.check(nc), this.options.intervalMs ?? 2000);
    this.timer.unref();
    void this.check(nc);
  }

  /**
   * After a reconnection: until a pass that began after it completes, the streams are not known to
   * exist (the server may have come back without its store), and `problems()` says so.
   */
  reconnected(nc: NatsConnection): void {
    this.reconnects++;
    this.reconnectedAt = this.now();
    void this.check(nc, true);
  }

  /**
   * One pass over every stream; a pass already under way is followed by one more. Never rejects.
   * @param fresh start at once, leaving a pass under way to end unheard (after a reconnection: its
   *   requests went to a connection that is gone and would only time out)
   */
  check(nc: NatsConnection, fresh = false): Promise<void> {
    if (this.running && !fresh) {
      this.again = true;
      return this.running;
    }
    const generation = fresh ? ++this.generation : this.generation;
    const pass: Promise<void> = (async () => {
      do {
        this.again = false;
        const after = this.reconnects;
        let jsm: JetStreamManager;
        try {
          // Short: a request sent just before a reconnection is never answered, and the pass after it waits.
          jsm = await jetstreamManager(nc, { timeout: 2000, checkAPI: false });
        } catch {
          break;
        }
        let complete = true;
        for (const w of [...this.watches]) {
          if (this.closed || generation !== this.generation) return;
          complete = (await this.checkOne(nc, jsm, w, generation)) && complete;
        }
        if (generation !== this.generation) return;
        if (complete) this.verified = Math.max(this.verified, after);
      } while (this.again && !this.closed);
      // Just after a reconnection JetStream may not answer yet (a restarted server accepts connections
      // first): try again soon rather than a whole period later, /healthz saying `degraded` meanwhile.
      if (this.verified < this.reconnects && !this.closed) {
        const t = setTimeout(() => void this.check(nc), RECHECK_MS);
        t.unref();
      }
    })().finally(() => {
      if (this.running === pass) this.running = undefined;
    });
    this.running = pass;
    return pass;
  }

  /** One line per stream that is missing or was re-created lately; none when all is well. */
  problems(): string[] {
    const now = this.now();
    const out: string[] = [];
    if (this.verified < this.reconnects && this.watches.length > 0) {
      out.push(`reconnected to NATS ${Math.round((now - this.reconnectedAt) / 1000)} s ago: not yet known whether its JetStream streams survived`);
    }
    for (const w of this.watches) {
      const { label } = w.stream;
      if (w.missingSince !== undefined) {
        const since = new Date(w.missingSince).toISOString();
        const what = w.stream.recreate === undefined ? 'waiting for an ingest node to re-create it' : w.recreateError === null ? 're-creating it' : `re-creating it failed: ${w.recreateError}`;
        out.push(`JetStream ${label} is missing since ${since} (deleted, or the NATS store was lost): ${what}`);
      } else if (w.recreatedAt !== undefined && now - w.recreatedAt < RESET_NOTICE_MS) {
        out.push(`JetStream ${label} was lost and re-created ${Math.round((now - w.recreatedAt) / 1000)} s ago: what it held before is gone`);
      }
    }
    return out;
  }

  close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    return this.running ?? Promise.resolve();
  }

  /** Checks one stream; false when its state could not be learnt (NATS did not answer). */
  private async checkOne(nc: NatsConnection, jsm: JetStreamManager, w: Watch, generation: number): Promise<boolean> {
    const { logger, metrics } = this.options;
    const { stream } = w;
    w.lastSeq = Math.max(w.lastSeq, stream.knownLastSeq?.() ?? 0);
    let info;
    try {
      info = await jsm.streams.info(stream.name);
    } catch (err) {
      // NATS away or slow: the link reports that; only "no such stream" is a loss.
      if (!isStreamNotFound(err)) return false;
      info = undefined;
    }
    // A newer pass began meanwhile (a reconnection): this answer may be from before it.
    if (generation !== this.generation) return false;
    if (info === undefined) {
      if (w.missingSince === undefined) {
        w.missingSince = this.now();
        metrics.streamsLost.inc({ stream: stream.name });
        logger.error(`JetStream ${stream.label} is missing (deleted, or the NATS store was lost)${stream.recreate ? '; re-creating it' : ''}`, { stream: stream.name, last_seq: w.lastSeq });
      }
      if (stream.recreate === undefined) return true;
      try {
        await stream.recreate(nc, w.lastSeq + 1);
        w.recreateError = null;
        logger.warn(`JetStream ${stream.label} re-created`, { stream: stream.name, first_seq: w.lastSeq + 1 });
      } catch (err) {
        w.recreateError = describeError(err);
        logger.error(`JetStream ${stream.label} could not be re-created; retrying`, { stream: stream.name, error: w.recreateError });
        return true;
      }
      // The next pass reads its info as it is now (its creation time, sequences).
      this.again = true;
      return true;
    }
    if (w.missingSince !== undefined || (w.created !== undefined && info.created !== w.created)) {
      if (w.missingSince === undefined) {
        // Re-created by another node (or by hand) between two checks.
        metrics.streamsLost.inc({ stream: stream.name });
        logger.error(`JetStream ${stream.label} was lost and re-created`, { stream: stream.name, last_seq_before: w.lastSeq, first_seq: info.state.first_seq });
      }
      w.missingSince = undefined;
      w.recreatedAt = this.now();
      // Sequences may start over: what the old stream reached says nothing about the new one.
      w.lastSeq = 0;
    }
    w.created = info.created;
    w.lastSeq = Math.max(w.lastSeq, info.state.last_seq);
    return true;
  }
}
