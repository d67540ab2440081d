/**
 * Frames processed before they are confirmed: for a durable subscriber whose handling is asynchronous
 * (matching and committing to a database), the server must not count a frame as delivered until it
 * was handled. The server confirms a durable client's position with a WebSocket ping; this queue
 * answers each ping only once every frame received before it has been processed, so a `kill -9` at any
 * moment loses nothing (what was not handled was not confirmed, and the server replays it).
 *
 * Frames go to `process` in order, in batches, one call at a time. While more than `maxQueued` wait,
 * the socket is paused (TCP backpressure: the server keeps a durable client's backlog in its replay
 * window rather than dropping it) and resumed below half of it.
 */

/** What the queue does to the connection. */
export interface QueueConnection {
  pong(data: Buffer): void;
  pause(): void;
  resume(): void;
}

export interface ConfirmedQueueOptions {
  /** Handles frames in order; resolves once they are durably handled. */
  process: (frames: string[]) => Promise<void>;
  /** Most frames in one `process` call (default 500). */
  batchSize?: number;
  /** Frames waiting before the socket is paused (default 5_000). */
  maxQueued?: number;
  /** `process` failed: the frames are unconfirmed, processing stops. */
  onFailure: (err: unknown) => void;
  /** A batch was handled (the connection is alive even while paused). */
  onProgress?: () => void;
}

export class ConfirmedQueue {
  private frames: string[] = [];
  /** Frames received and processed since start, across connections (a ping's mark stays right after a reconnect). */
  private received = 0;
  private processed = 0;
  private pings: { mark: number; data: Buffer }[] = [];
  private running: Promise<void> | undefined;
  private connection: QueueConnection | undefined;
  private stopped = false;
  /** The error that stopped processing, if any. */
  failure: unknown;
  /** True while the socket is paused for backpressure. */
  paused = false;

  constructor(private readonly options: ConfirmedQueueOptions) {}

  /** A new connection: pings of the old one are void (its server side is gone). */
  attach(connection: QueueConnection | undefined): void {
    this.connection = connection;
    this.pings = [];
    this.paused = false;
  }

  push(frame: string): void {
    this.frames.push(frame);
    this.received++;
    if (!this.paused && this.frames.length >= (this.options.maxQueued ?? 5_000)) {
      this.paused = true;
      this.connection?.pause();
    }
    this.pump();
  }

  /** The server's ping, to be answered once everything received before it is processed. */
  ping(data: Buffer): void {
    this.pings.push({ mark: this.received, data });
    this.answerPings();
  }

  /** Lets the batch being processed finish (and be confirmed); frames still queued stay unconfirmed. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  private answerPings(): void {
    while (this.pings.length > 0 && this.pings[0].mark <= this.processed) {
      this.connection?.pong(this.pings.shift()!.data);
    }
  }

  private pump(): void {
    if (this.running || this.failure !== undefined) return;
    this.running = this.drain().finally(() => (this.running = undefined));
  }

  private async drain(): Promise<void> {
    const size = this.options.batchSize ?? 500;
    while (this.frames.length > 0 && !this.stopped) {
      const batch = this.frames.splice(0, size);
      try {
        await this.options.process(batch);
      } catch (err) {
        this.failure = err;
        this.frames = [];
        this.options.onFailure(err);
        return;
      }
      this.processed += batch.length;
      this.options.onProgress?.();
      this.answerPings();
      if (this.paused && this.frames.length < (this.options.maxQueued ?? 5_000) / 2) {
        this.paused = false;
        this.connection?.resume();
      }
    }
  }
}
