// `certaudit health` against a real HTTP + WebSocket server on 127.0.0.1:0 that serves a chosen /healthz
// and sends (or withholds) a frame. Exit codes and the summary line are checked by spawning the real CLI.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { probeHealth } from '../../../src/cli/certaudit/health-command.js';

interface Behaviour {
  /** /healthz status code and body; undefined = 404 */
  healthz?: { statusCode: number; body: string };
  /** frame sent when a client connects on `/`; undefined = send nothing */
  frame?: string;
  /** refuse the upgrade */
  refuseUpgrade?: boolean;
}

interface FakeServer {
  url: string;
  behaviour: Behaviour;
  close(): Promise<void>;
}

async function startFake(behaviour: Behaviour): Promise<FakeServer> {
  const state = { behaviour };
  const server: Server = createServer((req, res) => {
    const h = state.behaviour.healthz;
    if (req.url === '/healthz' && h !== undefined) {
      res.writeHead(h.statusCode, { 'content-type': 'application/json' });
      res.end(h.body);
      return;
    }
    res.writeHead(404).end('not found');
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    if (state.behaviour.refuseUpgrade === true || req.url !== '/') {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      if (state.behaviour.frame !== undefined) ws.send(state.behaviour.frame);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get behaviour() {
      return state.behaviour;
    },
    set behaviour(b: Behaviour) {
      state.behaviour = b;
    },
    async close() {
      for (const c of wss.clients) c.terminate();
      wss.close();
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

function healthz(status: 'ok' | 'degraded' | 'down', lags: number[] = [0, 7]): { statusCode: number; body: string } {
  const logs = lags.map((lag, i) => ({
    url: `http://127.0.0.1:1/log${i}/`,
    name: `log${i}`,
    kind: i % 2 === 0 ? 'rfc6962' : 'static',
    tree_size: 100 + lag,
    next_index: 100,
    lag,
    last_success: 1_764_000_000,
    last_error: null,
  }));
  return { statusCode: status === 'down' ? 503 : 200, body: JSON.stringify({ status, uptime_seconds: 42, clients: 1, logs }) };
}

const HEARTBEAT = JSON.stringify({ message_type: 'heartbeat', timestamp: 1764000000.25 });

/** Spawns the real CLI entry point and collects its exit code and output. */
async function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/certaudit.ts', 'health', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}

const fake = await startFake({});
after(() => fake.close());

test('exit 0 OK: healthy /healthz and a heartbeat frame; one line on stdout', async () => {
  fake.behaviour = { healthz: healthz('ok'), frame: HEARTBEAT };
  const r = await runCli(['--url', fake.url, '--timeout', '5']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(r.stdout.split('\n').length, 2, 'exactly one line');
  assert.match(r.stdout, /^CERTSTREAM OK - status ok, 2 logs, max lag 7 \(log1\), 1 clients, heartbeat after [\d.]+s \| max_lag=7;10000 /);
});

test('exit 1 WARNING: degraded status, and a log over --max-lag (with --json)', async () => {
  fake.behaviour = { healthz: healthz('degraded'), frame: HEARTBEAT };
  const r = await runCli(['--url', fake.url, '--timeout', '5']);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /^CERTSTREAM WARNING - status degraded; /);

  fake.behaviour = { healthz: healthz('ok', [0, 7]), frame: HEARTBEAT };
  const j = await runCli(['--url', fake.url, '--timeout', '5', '--max-lag', '5', '--json']);
  assert.equal(j.code, 1, j.stdout + j.stderr);
  const doc = JSON.parse(j.stdout) as { state: string; exit_code: number; problems: string[]; healthz: { max_lag: number } };
  assert.equal(doc.state, 'WARNING');
  assert.equal(doc.exit_code, 1);
  assert.deepEqual(doc.problems, ['lag over 5: log1 (7)']);
  assert.equal(doc.healthz.max_lag, 7);
});

test('exit 2 CRITICAL: no frame within --timeout; status down; refused upgrade; nothing listening', async () => {
  fake.behaviour = { healthz: healthz('ok') };
  const silent = await runCli(['--url', fake.url, '--timeout', '0.5']);
  assert.equal(silent.code, 2, silent.stdout + silent.stderr);
  assert.match(silent.stdout, /^CERTSTREAM CRITICAL - no WebSocket frame within 0.5s; status ok/);

  fake.behaviour = { healthz: healthz('down'), frame: HEARTBEAT };
  const down = await runCli(['--url', fake.url, '--timeout', '5']);
  assert.equal(down.code, 2, down.stdout + down.stderr);
  assert.match(down.stdout, /^CERTSTREAM CRITICAL - status down/);

  fake.behaviour = { healthz: healthz('ok'), refuseUpgrade: true };
  const refused = await probeHealth({ url: fake.url, timeoutSeconds: 5, maxLag: 1000, json: false });
  assert.equal(refused.state, 'CRITICAL');
  assert.match(refused.problems[0] ?? '', /upgrade refused with HTTP 404/);

  // A port that was just closed: connection refused on both probes.
  const gone = await startFake({});
  const goneUrl = gone.url;
  await gone.close();
  const nothing = await runCli(['--url', goneUrl, '--timeout', '2', '--json']);
  assert.equal(nothing.code, 2, nothing.stdout + nothing.stderr);
  const doc = JSON.parse(nothing.stdout) as { state: string; problems: string[] };
  assert.equal(doc.state, 'CRITICAL');
  assert.match(doc.problems.join(' '), /\/healthz unreachable: .*ECONNREFUSED/);
});

test('exit 3 UNKNOWN: an unparsable /healthz answer, and bad usage', async () => {
  fake.behaviour = { healthz: { statusCode: 200, body: '<html>hello</html>' }, frame: HEARTBEAT };
  const r = await runCli(['--url', fake.url, '--timeout', '5']);
  assert.equal(r.code, 3, r.stdout + r.stderr);
  assert.match(r.stdout, /^CERTSTREAM UNKNOWN - \/healthz answer unusable: not JSON/);

  const usage = await runCli(['--timeout', 'soon']);
  assert.equal(usage.code, 3);
  assert.match(usage.stdout, /^CERTSTREAM UNKNOWN - usage: --timeout must be a number/);
  assert.match(usage.stderr, /Usage: certaudit health/);

  const unknownFlag = await runCli(['--frobnicate', '--json']);
  assert.equal(unknownFlag.code, 3);
  assert.equal((JSON.parse(unknownFlag.stdout) as { state: string }).state, 'UNKNOWN');
});

test('probe in-process: a non-JSON first frame is UNKNOWN, a certificate_update is OK', async () => {
  fake.behaviour = { healthz: healthz('ok'), frame: 'not json' };
  const bad = await probeHealth({ url: fake.url, timeoutSeconds: 5, maxLag: 1000, json: false });
  assert.equal(bad.state, 'UNKNOWN');
  fake.behaviour = { healthz: healthz('ok'), frame: JSON.stringify({ message_type: 'certificate_update', data: {} }) };
  const good = await probeHealth({ url: `${fake.url}/`, timeoutSeconds: 5, maxLag: 1000, json: false });
  assert.equal(good.state, 'OK');
  assert.equal(good.websocket.message_type, 'certificate_update');
});
