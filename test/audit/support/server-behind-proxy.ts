/**
 * The setup of the end-to-end reconnect tests: the real certstream-server following the fake CT log,
 * caught up to the logs' heads (so everything after is streamed live), with a TCP proxy in front whose
 * connections a test can cut. Everything is closed by `t.after`.
 */
import type { TestContext } from 'node:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FakeCtLog } from '../../../fake-ct-log/fake-ct-log.js';
import type { ServerConfig } from '../../../src/config/server-config.js';
import { nextIndexes, startFake, startReal, testConfig, whenFake } from '../../server/server-harness.js';
import { CuttableProxy } from '../../support/tcp-proxy.js';

export interface ServerBehindProxy {
  fake: FakeCtLog;
  proxy: CuttableProxy;
  /** The server's own WebSocket base URL (not through the proxy), ending in '/'. */
  wsUrl: string;
}

export async function serverBehindProxy(t: TestContext, over: Partial<ServerConfig> = {}): Promise<ServerBehindProxy> {
  const fake = await startFake(t, { rfc6962Logs: 1, staticLogs: 1, initialSize: 300 });
  const stateDir = await mkdtemp(join(tmpdir(), 'certaudit-server-'));
  const server = await startReal(testConfig(fake, stateDir, over));
  // The server writes its cursor file until it is closed: remove the directory only after that.
  t.after(async () => {
    await server.close();
    await rm(stateDir, { recursive: true, force: true });
  });
  await whenFake(fake, () => fake.logs.every((l) => nextIndexes(server).get(l.url) === fake.size(l.url)));
  const proxy = await CuttableProxy.start(server.port);
  t.after(() => proxy.close());
  return { fake, proxy, wsUrl: server.url.replace(/^http/, 'ws') + '/' };
}
