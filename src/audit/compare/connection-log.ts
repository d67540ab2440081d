/**
 * One feed's connection history (pure): connects, disconnects with their close code or error, and the
 * disconnected intervals, which decide `reconnect_loss_*` (a miss counts as reconnect loss when the
 * other feed delivered the entry while this feed was down). Times are milliseconds since the epoch.
 */

/** One connection event, as shown in the report's connection history and written to recordings. */
export interface ConnectionEvent {
  /** ms since the epoch. */
  t: number;
  kind: 'connect' | 'disconnect';
  /** WebSocket close code (1006 when the socket died without a close frame). */
  code?: number;
  /** Close reason or error text, one line. */
  reason?: string;
}

/** Keep at most this many events for the report; counters stay exact beyond it. */
const MAX_EVENTS = 1000;

export class ConnectionLog {
  private readonly events: ConnectionEvent[] = [];
  /** Closed down intervals as flat [start, end) pairs in ms, in time order. */
  private readonly down: number[] = [];
  /** Start of the current down interval (after a disconnect), or undefined while connected or before the first connect. */
  private downSince: number | undefined;
  private isUp = false;
  private lastConnect = 0;
  private everUp = false;
  connects = 0;
  disconnects = 0;
  /** Events dropped from `history` because of the cap. */
  droppedEvents = 0;

  /** True while connected. */
  get up(): boolean {
    return this.isUp;
  }

  /** When the current connection was made (ms), or undefined while disconnected. */
  get upSince(): number | undefined {
    return this.isUp ? this.lastConnect : undefined;
  }

  /** True once the feed has been connected at least once. */
  get everConnected(): boolean {
    return this.everUp;
  }

  /** The recorded events (capped at 1000, oldest kept). */
  get history(): readonly ConnectionEvent[] {
    return this.events;
  }

  private push(e: ConnectionEvent): void {
    if (this.events.length < MAX_EVENTS) this.events.push(e);
    else this.droppedEvents++;
  }

  /** The feed connected at `t` (ms). */
  connect(t: number): void {
    if (this.isUp) return;
    this.isUp = true;
    this.everUp = true;
    this.lastConnect = t;
    this.connects++;
    if (this.downSince !== undefined) {
      this.down.push(this.downSince, t);
      this.downSince = undefined;
    }
    this.push({ t, kind: 'connect' });
  }

  /** The feed lost its connection at `t` (ms). */
  disconnect(t: number, code?: number, reason?: string): void {
    if (!this.isUp) return;
    this.isUp = false;
    this.disconnects++;
    this.downSince = t;
    const e: ConnectionEvent = { t, kind: 'disconnect' };
    if (code !== undefined) e.code = code;
    if (reason) e.reason = reason;
    this.push(e);
  }

  /**
   * True when the feed was disconnected at `t` (ms): inside a closed down interval [start, end), or
   * after the last disconnect while still down. Time before the first connect is not downtime.
   */
  wasDownAt(t: number): boolean {
    if (this.downSince !== undefined && t >= this.downSince) return true;
    const d = this.down;
    let lo = 0;
    let hi = d.length / 2;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (d[mid * 2 + 1] <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo < d.length / 2 && d[lo * 2] <= t;
  }

  /** Total disconnected time in seconds up to `now` (ms), counting a current outage until `now`. */
  downtimeSeconds(now: number): number {
    let ms = 0;
    for (let i = 0; i < this.down.length; i += 2) ms += this.down[i + 1] - this.down[i];
    if (this.downSince !== undefined && now > this.downSince) ms += now - this.downSince;
    return ms / 1000;
  }
}
