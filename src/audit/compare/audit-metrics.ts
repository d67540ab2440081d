/**
 * The metrics of a running `certaudit compare` (names fixed by interface.md), in their own registry
 * (never prom-client's global one), plus the tiny HTTP server that exposes them on --metrics-port.
 * Counters move as events arrive and as windows are judged; `feed_up` and the downtime are computed
 * at scrape time from the comparator's connection logs, so an ongoing outage is visible at once.
 */
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { Counter, Gauge, Registry } from 'prom-client';
import type { Comparator, FeedId, IgnoreReason, JudgeDelta } from './comparator.js';
import type { FeedEvent } from '../feeds/feed-event.js';

export interface AuditMetrics {
  readonly registry: Registry;
  /** Counts one feed event (entries, disconnects). */
  onEvent(feed: FeedId, e: FeedEvent): void;
  /** Adds what a judgement found. */
  onJudge(deltas: readonly JudgeDelta[]): void;
}

/**
 * @param cmp the comparator whose connection state `feed_up` and the downtime are read from
 * @param labels the `feed` label value of each side (default "a" and "b")
 * @param now clock in ms (default Date.now)
 */
export function createAuditMetrics(cmp: Comparator, labels: Record<FeedId, string> = { a: 'a', b: 'b' }, now: () => number = Date.now): AuditMetrics {
  const registry = new Registry();
  const registers = [registry];
  const ids: FeedId[] = ['a', 'b'];
  new Gauge({
    name: 'certaudit_feed_up',
    help: 'Whether the feed is connected (1) or not (0).',
    labelNames: ['feed'] as const,
    registers,
    collect() {
      for (const id of ids) this.set({ feed: labels[id] }, cmp.connections[id].up ? 1 : 0);
    },
  });
  const disconnects = new Counter({
    name: 'certaudit_disconnects_total',
    help: 'Times the feed connection was lost.',
    labelNames: ['feed'] as const,
    registers,
  });
  const counted: Record<FeedId, number> = { a: 0, b: 0 };
  const downtime = new Counter({
    name: 'certaudit_downtime_seconds_total',
    help: 'Seconds the feed was disconnected after having been connected (an ongoing outage included).',
    labelNames: ['feed'] as const,
    registers,
    collect() {
      for (const id of ids) {
        const total = cmp.connections[id].downtimeSeconds(now());
        if (total > counted[id]) {
          this.inc({ feed: labels[id] }, total - counted[id]);
          counted[id] = total;
        }
      }
    },
  });
  const entries = new Counter({
    name: 'certaudit_entries_total',
    help: 'certificate_update frames received from the feed.',
    labelNames: ['feed'] as const,
    registers,
  });
  const missed = new Counter({
    name: 'certaudit_missed_entries_total',
    help: 'Judged entries the other feed delivered and this feed did not, per log.',
    labelNames: ['feed', 'log'] as const,
    registers,
  });
  const compared = new Counter({
    name: 'certaudit_compared_entries_total',
    help: 'Judged entries delivered by at least one feed (the union), per log.',
    labelNames: ['log'] as const,
    registers,
  });
  const ignoredCounted: Record<FeedId, Record<IgnoreReason, number>> = {
    a: { too_many_logs: 0, implausible_index: 0 },
    b: { too_many_logs: 0, implausible_index: 0 },
  };
  new Counter({
    name: 'certaudit_ignored_entries_total',
    help: 'Entries not compared: of logs beyond the log limit (too_many_logs), or implausible cert_index jumps (implausible_index).',
    labelNames: ['feed', 'reason'] as const,
    registers,
    collect() {
      for (const id of ids) {
        for (const reason of ['too_many_logs', 'implausible_index'] as const) {
          // A confirmed jump lowers the comparator's count again; a counter only ever rises.
          const total = cmp.ignored[id][reason];
          this.inc({ feed: labels[id], reason }, Math.max(0, total - ignoredCounted[id][reason]));
          ignoredCounted[id][reason] = Math.max(total, ignoredCounted[id][reason]);
        }
      }
    },
  });
  for (const id of ids) {
    // Present from the start, so rate() and absent() behave before the first event.
    disconnects.inc({ feed: labels[id] }, 0);
    downtime.inc({ feed: labels[id] }, 0);
    entries.inc({ feed: labels[id] }, 0);
  }
  return {
    registry,
    onEvent(feed, e) {
      if (e.ev === 'entry') entries.inc({ feed: labels[feed] });
      else if (e.ev === 'range') entries.inc({ feed: labels[feed] }, e.hi - e.lo + 1);
      else if (e.ev === 'disconnect') disconnects.inc({ feed: labels[feed] });
    },
    onJudge(deltas) {
      for (const d of deltas) {
        compared.inc({ log: d.log }, d.union);
        missed.inc({ feed: labels.a, log: d.log }, d.missed_by_a);
        missed.inc({ feed: labels.b, log: d.log }, d.missed_by_b);
      }
    },
  };
}

/** A running /metrics endpoint. */
export interface MetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Serves `registry` on GET /metrics (everything else 404).
 * @param host listen address (default 127.0.0.1; a metrics port is not for the internet)
 */
export async function serveMetrics(registry: Registry, port: number, host = '127.0.0.1'): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '/').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(err)}\n`),
    );
  });
  server.listen(port, host);
  await once(server, 'listening');
  const addr = server.address();
  const actual = addr !== null && typeof addr === 'object' ? addr.port : port;
  return {
    port: actual,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
