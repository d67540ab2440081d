// Issue 18 §3: an edge pointed at a port that accepts TCP connections but does not speak NATS (a typo in
// --nats, another service) must still stop cleanly. Before, its SIGTERM waited for the connection
// attempt's 5 s timeout, hit the 5 s shutdown deadline and exited 1 ("shutdown did not finish in time").
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { ConditionWaiters } from '../support/wait-until.js';
import { NodeSet } from './support/nats-node.js';

describe('--nats pointed at something that is not NATS', () => {
  for (const role of ['edge', 'all'] as const) {
    it(`a --role ${role} node stops on SIGTERM with exit 0 while its connection attempt hangs`, { timeout: 90_000 }, async () => {
      // Accepts, reads, never answers: the NATS client waits for an INFO that never comes.
      const sockets = new Set<Socket>();
      const accepted = new ConditionWaiters();
      const silent = createServer((s) => {
        sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => sockets.delete(s));
        s.resume();
        accepted.notify();
      });
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const port = (silent.address() as { port: number }).port;
      const nodes = new NodeSet();
      try {
        const node = await nodes.start(role, { role, nats: `nats://127.0.0.1:${port}`, logList: 'http://127.0.0.1:9/unused.json', extraArgs: ['--allow-empty'] });
        // A connection attempt is under way (the server holds its socket) when the signal comes.
        await accepted.until('a connection attempt to the silent port', 30_000, () => sockets.size > 0);
        const t0 = Date.now();
        const how = await node.stop();
        assert.equal(how, 0, `exit status after SIGTERM (${Date.now() - t0} ms)${node.tail()}`);
      } finally {
        await nodes.stopAll();
        for (const s of sockets) s.destroy();
        await new Promise((resolve) => silent.close(resolve));
      }
    });
  }
});
