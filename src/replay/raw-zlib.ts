/**
 * Raw deflate and inflate of small buffers with one long-lived zlib engine each (compact window records).
 *
 * `zlib.inflateRawSync` builds a whole zlib stream object and engine per call, then throws both away:
 * for a compact record of a few KB that setup and its garbage cost about as much as the inflate itself,
 * and a replay inflates every record (tens of thousands a second). Here one engine is reset between
 * uses (inflateReset / deflateReset, which also set the preset dictionary again: `zlib.reset()`) and
 * driven through the engine's synchronous write, the call `zlib.*Sync` itself makes, straight into the
 * caller's buffer. That write is not public API: where a Node version lacks it, `RawZlib` falls back to
 * the `*Sync` functions (the same bytes, at their cost).
 *
 * Synchronous and single-threaded: each call is complete before the next starts, so one engine per
 * process and mode is enough.
 */
import { constants, DeflateRaw, InflateRaw, deflateRawSync, inflateRawSync, type ZlibOptions } from 'node:zlib';

/** The engine's synchronous write, as zlib's own `processChunkSync` calls it (Node 14–22). */
interface EngineHandle {
  writeSync(flush: number, input: Buffer, inOffset: number, inLength: number, out: Buffer, outOffset: number, outLength: number): void;
  onerror: (message: string, errno: number, code: string) => void;
}

type Engine = DeflateRaw | InflateRaw;

/** One raw deflate or inflate engine, reused (see the file's comment). */
export class RawZlib {
  private engine: Engine | undefined;
  private handle: EngineHandle | undefined;
  /** [avail_out, avail_in] after a write (zlib's `_writeState`). */
  private state: Uint32Array | undefined;
  private error: string | undefined;

  /**
   * @param mode deflate or inflate
   * @param options zlib options (dictionary, windowBits, level, memLevel), the same on both sides
   */
  constructor(private readonly mode: 'deflate' | 'inflate', private readonly options: ZlibOptions) {
    this.renew();
  }

  /**
   * Runs the whole of `input` through the engine (Z_FINISH) into `out[outAt, outAt + outLength)`.
   * Inflate stops when that space is full, so a caller that needs only the first bytes of the data
   * inflates only those; data that ends cleanly before it is full writes fewer bytes. Deflate output
   * that fills the space may be cut: give it room to spare and treat a full space as a failure.
   * @returns the bytes written, or -1 when zlib failed (damaged or truncated input)
   */
  run(input: Buffer, out: Buffer, outAt: number, outLength: number): number {
    const handle = this.handle;
    const state = this.state;
    if (handle === undefined || state === undefined || this.engine === undefined) return this.runSync(input, out, outAt, outLength);
    this.engine.reset();
    this.error = undefined;
    handle.writeSync(constants.Z_FINISH, input, 0, input.length, out, outAt, outLength);
    if (this.error !== undefined) {
      // "No way to cleanly recover", says zlib.js: a fresh engine for the next call.
      this.renew();
      return -1;
    }
    return outLength - state[0];
  }

  /** The public, allocating path (a Node version without the engine's synchronous write). */
  private runSync(input: Buffer, out: Buffer, outAt: number, outLength: number): number {
    try {
      const result = this.mode === 'deflate' ? deflateRawSync(input, this.options) : inflateRawSync(input, this.options);
      return result.copy(out, outAt, 0, Math.min(result.length, outLength));
    } catch {
      return -1;
    }
  }

  private renew(): void {
    this.engine?.close();
    const engine = this.mode === 'deflate' ? new DeflateRaw(this.options) : new InflateRaw(this.options);
    const internals = engine as unknown as { _handle?: Partial<EngineHandle>; _writeState?: unknown };
    const handle = internals._handle;
    const state = internals._writeState;
    if (typeof handle?.writeSync !== 'function' || !(state instanceof Uint32Array) || state.length < 2) {
      engine.close();
      this.engine = this.handle = this.state = undefined;
      return;
    }
    // Our own error callback instead of zlib.js's (which destroys the stream and emits 'error' later).
    handle.onerror = (message: string) => {
      this.error = message;
    };
    this.engine = engine;
    this.handle = handle as EngineHandle;
    this.state = state;
  }
}
