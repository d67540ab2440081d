/**
 * The receiving side of bench/fanout.ts, in its own process (forked with IPC): K WebSocket clients on
 * one URL. It counts every message, detects per-log gaps, and samples arrival times for latency.
 *
 * The clients are minimal RFC 6455 clients over node:net (handshake, unmasked server frames, pongs,
 * close): the benchmark must measure the servers, and a full `ws` client — one Buffer, one UTF-8 check
 * and one event per message — costs more CPU per message than the servers spend, on the same machine.
 * Frames are not JSON-parsed either: cert_index and the source url are found with Buffer#indexOf, and
 * only in the frames of the first `inspect` clients (gaps and latency samples); the others count frames.
 *
 * IPC protocol (parent → child): {cmd:'connect', url, clients, sampleEvery, inspect}, {cmd:'measure'},
 * {cmd:'stop'}. Child → parent: {type:'connected'}, {type:'result', ...}.
 */
import { randomBytes } from 'node:crypto';
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

interface ConnectCmd {
  cmd: 'connect';
  url: string | string[];
  clients: number;
  /** Record an arrival sample for one message in `sampleEvery` (by cert_index, or by ordinal without one). */
  sampleEvery: number;
  /** Only the first `inspect` clients look into frames (gaps, latency); the others count frames. */
  inspect: number;
}
type Cmd = ConnectCmd | { cmd: 'measure' } | { cmd: 'stop' };

const INDEX_KEY = Buffer.from('"cert_index":');
const URL_KEY = Buffer.from('"url":"');
const SOURCE_KEY = Buffer.from('"source":{');
const SEEN_KEY = Buffer.from('"seen":');

const now = (): number => performance.timeOrigin + performance.now();

let measuring = false;
let measureStart = 0;
let messages = 0;
let bytes = 0;
let gaps = 0;
let duplicates = 0;
let closedEarly = 0;
/** Samples: [log id, cert_index or -1, ordinal, arrival ms, data.seen ms or -1]. */
const samples: number[] = [];
const logIds = new Map<string, number>();
const sockets: Socket[] = [];

/** Finds cert_index and data.source.url inside payload bytes [start, end). */
function locate(data: Buffer, start: number, end: number): { log: string; index: number } | undefined {
  const i = data.indexOf(INDEX_KEY, start);
  if (i < 0 || i >= end) return undefined;
  let j = i + INDEX_KEY.length;
  let index = 0;
  while (j < end && data[j] >= 0x30 && data[j] <= 0x39) index = index * 10 + (data[j++] - 0x30);
  const s = data.indexOf(SOURCE_KEY, start);
  const u = s < 0 ? -1 : data.indexOf(URL_KEY, s);
  if (s < 0 || u < 0 || u >= end) return undefined;
  const close = data.indexOf(0x22, u + URL_KEY.length);
  return { log: data.toString('latin1', u + URL_KEY.length, close), index };
}

/** data.seen (epoch seconds, when the server rendered the entry) in ms, or -1. */
function seenMs(data: Buffer, start: number, end: number): number {
  const i = data.indexOf(SEEN_KEY, start);
  if (i < 0 || i >= end) return -1;
  const from = i + SEEN_KEY.length;
  let j = from;
  while (j < end && ((data[j] >= 0x30 && data[j] <= 0x39) || data[j] === 0x2e || data[j] === 0x65 || data[j] === 0x2b || data[j] === 0x2d)) j++;
  const v = Number(data.toString('latin1', from, j));
  return Number.isFinite(v) ? v * 1000 : -1;
}

/**
 * One WebSocket client on a raw TCP socket. `onText(buf, start, end, at)` gets each text frame's
 * payload bounds (server frames are unmasked; fragmentation is not used by either server).
 */
function rawClient(url: URL, onOpen: () => void, onText: (buf: Buffer, start: number, end: number, at: number) => void, onClose: () => void): Socket {
  // wss:// (bench:fanout --tls): TLS with verification off: the benchmark measures cost, not trust.
  const secure = url.protocol === 'wss:';
  const socket = secure ? tlsConnect({ port: Number(url.port), host: url.hostname, rejectUnauthorized: false }) : tcpConnect(Number(url.port), url.hostname);
  socket.setNoDelay(true);
  let upgraded = false;
  let pending: Buffer | undefined;
  socket.on(secure ? 'secureConnect' : 'connect', () => {
    socket.write(
      `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
  });
  socket.on('data', (chunk: Buffer) => {
    const at = now();
    const buf = pending ? Buffer.concat([pending, chunk]) : chunk;
    pending = undefined;
    let pos = 0;
    if (!upgraded) {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) {
        pending = buf;
        return;
      }
      if (!buf.toString('latin1', 0, 12).startsWith('HTTP/1.1 101')) {
        socket.destroy(new Error(`handshake refused: ${buf.toString('latin1', 0, end)}`));
        return;
      }
      upgraded = true;
      pos = end + 4;
      onOpen();
    }
    while (buf.length - pos >= 2) {
      const opcode = buf[pos] & 0x0f;
      let len = buf[pos + 1] & 0x7f;
      let head = 2;
      if (len === 126) {
        if (buf.length - pos < 4) break;
        len = buf.readUInt16BE(pos + 2);
        head = 4;
      } else if (len === 127) {
        if (buf.length - pos < 10) break;
        len = buf.readUInt32BE(pos + 2) * 0x100000000 + buf.readUInt32BE(pos + 6);
        head = 10;
      }
      if (buf.length - pos < head + len) break;
      const start = pos + head;
      const end = start + len;
      if (opcode === 0x1) onText(buf, start, end, at);
      else if (opcode === 0x9) socket.write(maskedFrame(0x8a, buf.subarray(start, end)));
      else if (opcode === 0x8) {
        socket.end(maskedFrame(0x88, buf.subarray(start, Math.min(end, start + 2))));
      }
      pos = end;
    }
    if (pos < buf.length) pending = Buffer.from(buf.subarray(pos));
  });
  socket.on('close', onClose);
  socket.on('error', (err) => process.send!({ type: 'error', message: err.message }));
  return socket;
}

/** A client frame (FIN + opcode byte given), masked with the zero key so the payload stays as is. */
function maskedFrame(first: number, payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from([first, 0x80 | payload.length, 0, 0, 0, 0]), payload]);
}

function connect(cmd: ConnectCmd): void {
  let open = 0;
  for (let c = 0; c < cmd.clients; c++) {
    // `{i}` in the URL is the client's number (durable clients need one id each); with several URLs,
    // client c takes URL c modulo their number.
    const template = typeof cmd.url === 'string' ? cmd.url : cmd.url[c % cmd.url.length];
    const url = new URL(template.replace('{i}', String(c)));
    const last = new Map<string, number>();
    const inspect = c < cmd.inspect;
    let ordinal = 0;
    const onText = (data: Buffer, start: number, end: number, at: number): void => {
      const k = ordinal++;
      if (!measuring) return;
      messages++;
      bytes += end - start;
      if (!inspect) return;
      const id = locate(data, start, end);
      if (id === undefined) {
        if (k % cmd.sampleEvery === 0) samples.push(-1, -1, k, at, -1);
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
        samples.push(logId, id.index, k, at, seenMs(data, start, end));
      }
    };
    let opened = false;
    let tries = 0;
    const onOpen = (): void => {
      opened = true;
      if (++open === cmd.clients) process.send!({ type: 'connected' });
    };
    // A connection reset before the upgrade (a thousand connects at once can overflow the listener's
    // accept queue on a loaded machine) is tried again, a few times, rather than hanging the run.
    const onClose = (): void => {
      if (!opened && ++tries < 5) setTimeout(() => sockets.push(rawClient(url, onOpen, onText, onClose)), 100 * tries);
      else if (measuring) closedEarly++;
    };
    sockets.push(rawClient(url, onOpen, onText, onClose));
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
        for (const socket of sockets) socket.destroy();
        process.exit(0);
      },
    );
  }
});
