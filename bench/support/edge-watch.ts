/**
 * Samples each edge's /healthz every 500 ms over a benchmark's measured window: how far (in stream
 * messages) each was at worst behind the furthest sequence any of them reported. A stalled consumer shows
 * here; a slow hand-on from the hub to the sockets does not.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { waitHealth, type BenchDaemon } from './daemon.js';

export function watchEdges(edges: BenchDaemon[]): { stop(): Promise<number[]> } {
  const worst = edges.map(() => 0);
  let running = true;
  const loop = (async () => {
    while (running) {
      const seqs = await Promise.all(edges.map((d) => waitHealth(d, () => true, 5000).then((h) => h.nats ?? null, () => null)));
      const last = Math.max(...seqs.map((n) => Math.max(n?.last_seq ?? 0, n?.delivered_seq ?? 0)));
      seqs.forEach((n, i) => {
        if (typeof n?.delivered_seq === 'number') worst[i] = Math.max(worst[i], last - n.delivered_seq);
      });
      await sleep(500);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return worst;
    },
  };
}
