/** Collects FeedEvents per feed and lets a test wait, without sleeping, until a condition holds. */
import type { FeedEvent } from '../../../src/audit/feeds/feed-event.js';
import { WAIT_MS, withDeadline } from './deadline.js';

export class EventWaiter {
  readonly events: Record<string, FeedEvent[]> = {};
  private waiters: Array<{ pred: () => boolean; resolve: () => void }> = [];

  /** Records one event of `feed` and wakes the waiters whose condition now holds. */
  readonly push = (feed: string, e: FeedEvent): void => {
    (this.events[feed] ??= []).push(e);
    this.waiters = this.waiters.filter((w) => {
      if (!w.pred()) return true;
      w.resolve();
      return false;
    });
  };

  /** Number of events of `feed` with kind `ev`. */
  count(feed: string, ev: FeedEvent['ev']): number {
    return (this.events[feed] ?? []).filter((e) => e.ev === ev).length;
  }

  /** Resolves once `pred()` holds (rejects after `ms`). */
  until(pred: () => boolean, ms = WAIT_MS): Promise<void> {
    if (pred()) return Promise.resolve();
    return withDeadline(new Promise((resolve) => this.waiters.push({ pred, resolve })), pred.toString(), ms);
  }

  /** Resolves once `feed` has produced `n` events of kind `ev`. */
  untilCount(feed: string, ev: FeedEvent['ev'], n: number): Promise<void> {
    return this.until(() => this.count(feed, ev) >= n);
  }
}
