/**
 * The receiving side of bench/fanout.ts, in its own process (forked with IPC): K WebSocket clients on
 * one URL. It counts every message, detects per-log gaps, and samples arrival times for latency.
 *
 * IPC protocol (parent → child): {cmd:'connect', url, clients, sampleEvery}, {cmd:'measure'},
 * {cmd:'stop'}. Child → parent: {type:'connected'}, {type:'result', ...}.
 * Frames are not JSON-parsed (that would cost more than the server's work): cert_index and the source
 * url are located with Buffer#indexOf, which is native and cheap.
 */
import { WebSocket } from 'ws';

interface ConnectCmd {
  cmd: 'connect';
  url: string;
  clients: number;
  /** Record an arrival sample for one message in `sampleEvery` (by cert_index, or by ordinal without one). */
  sampleEvery: number;
}
type Cmd = ConnectCmd | { cmd: 'measure' } | { cmd: 'stop' };

const INDEX_KEY = Buffer.from('"cert_index":');
const URL_KEY = Buffer.from('"url":"');
const SOURCE_KEY = Buffer.from('"source":{');

const now = (): number => performance.timeOrigin + performance.now();

let measuring = false;
let measureStart = 0;
let messages = 0;
let bytes = 0;
let gaps = 0;
let duplicates = 0;
let closedEarly = 0;
/** Samples: [log id, cert_index or -1, ordinal, arrival ms]. */
const samples: number[] = [];
const logIds = new Map<string, number>();
const sockets: WebSocket[] = [];

function locate(data: Buffer): { log: string; index: number } | undefined {
  const i = data.indexOf(INDEX_KEY);
  if (i < 0) return undefined;
  let j = i + INDEX_KEY.length;
  let index = 0;
  while (j < data.length && data[j] >= 0x30 && data[j] <= 0x39) index = index * 10 + (data[j++] - 0x30);
  const s = data.indexOf(SOURCE_KEY);
  const u = data.indexOf(URL_KEY, s);
  if (s < 0 || u < 0) return undefined;
  const end = data.indexOf(0x22, u + URL_KEY.length);
  return { log: data.toString('latin1', u + URL_KEY.length, end), index };
}

function connect(cmd: ConnectCmd): void {
  let open = 0;
  for (let c = 0; c < cmd.clients; c++) {
    const ws = new WebSocket(cmd.url, { perMessageDeflate: false });
    sockets.push(ws);
    const last = new Map<string, number>();
    let ordinal = 0;
    ws.on('message', (data: Buffer) => {
      const at = now();
      const k = ordinal++;
      if (!measuring) return;
      messages++;
      bytes += data.length;
      const id = locate(data);
      if (id === undefined) {
        if (k % cmd.sampleEvery === 0) samples.push(-1, -1, k, at);
        return;
      }
      const prev = last.get(id.log);
      if (prev !== undefined) {
        if (id.index > prev + 1) gaps += id.index - prev - 1;
        else if (id.index <= prev) duplicates++;
      }
      last.set(id.log, id.index);
      if (id.index % cmd.sampleEvery === 0 || k % cmd.sampleEvery === 0) {
        let logId = logIds.get(id.log);
        if (logId === undefined) logIds.set(id.log, (logId = logIds.size));
        samples.push(logId, id.index, k, at);
      }
    });
    ws.once('open', () => {
      if (++open === cmd.clients) process.send!({ type: 'connected' });
    });
    ws.once('close', () => {
      if (measuring) closedEarly++;
    });
    ws.on('error', (err) => process.send!({ type: 'error', message: err.message }));
  }
}

process.on('message', (cmd: Cmd) => {
  if (cmd.cmd === 'connect') connect(cmd);
  else if (cmd.cmd === 'measure') {
    measuring = true;
    measureStart = now();
  } else if (cmd.cmd === 'stop') {
    measuring = false;
    const seconds = (now() - measureStart) / 1000;
    const cpu = process.cpuUsage();
    process.send!(
      {
        type: 'result',
        seconds,
        messages,
        bytes,
        gaps,
        duplicates,
        closedEarly,
        logs: [...logIds.keys()],
        samples,
        clientCpuSeconds: (cpu.user + cpu.system) / 1e6,
      },
      () => {
        for (const ws of sockets) ws.terminate();
        process.exit(0);
      },
    );
  }
});
