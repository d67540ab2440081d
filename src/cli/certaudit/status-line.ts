/**
 * The one-line live status of a running `certaudit` command, redrawn in place once a second — only
 * when stderr is a terminal, so logs and pipes never see carriage returns. Formatting is pure.
 */
import { formatSeconds } from '../../audit/compare/report-table.js';

/** What the status line shows for one feed. */
export interface FeedStatus {
  name: string;
  up: boolean;
  entries: number;
  /** Judged misses of this feed so far (compare only). */
  missed?: number;
}

/** "12 s | a up 1234 entries, 3 missed | b DOWN 1200 entries, 0 missed". Pure. */
export function formatStatus(elapsedSeconds: number, feeds: readonly FeedStatus[]): string {
  const parts = feeds.map(
    (f) => `${f.name} ${f.up ? 'up' : 'DOWN'} ${f.entries} entries${f.missed === undefined ? '' : `, ${f.missed} missed`}`,
  );
  return [formatSeconds(Math.floor(elapsedSeconds)), ...parts].join(' | ');
}

/** Redraws a status line on a TTY stream every second; a no-op elsewhere. */
export class StatusLine {
  private timer: NodeJS.Timeout | undefined;
  private drawn = false;

  /**
   * @param render produces the current line
   * @param stream where to draw (default process.stderr; nothing is drawn unless it is a TTY)
   */
  constructor(
    private readonly render: () => string,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {}

  start(): void {
    if (!this.stream.isTTY || this.timer) return;
    this.timer = setInterval(() => {
      const width = this.stream.columns || 120;
      this.stream.write(`\r\x1b[K${this.render().slice(0, width - 1)}`);
      this.drawn = true;
    }, 1_000);
    this.timer.unref();
  }

  /** Stops and erases the line. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.drawn) this.stream.write('\r\x1b[K');
    this.drawn = false;
  }
}
