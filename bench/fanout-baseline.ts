/**
 * The baseline of bench/fanout.ts, in its own process (forked with IPC): the minimal `ws` broadcast
 * server — the physical limit of this stack. It broadcasts pre-serialized frames (captured from the
 * real server) to every client with `ws.send(string)`, at the same entry rate and in the same 50 ms
 * ticks as the fake log grows. Nothing else: no byte budget, no drops, no CT polling, no rendering.
 *
 * IPC: {cmd:'listen', framesFile} → {type:'listening', port}; {cmd:'start', rate, sampleEvery};
 * {cmd:'stop'} → {type:'result', sent, sendTimes:[ordinal, ms,…]}.
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';

type Cmd = { cmd: 'listen'; framesFile: string } | { cmd: 'start'; rate: number; sampleEvery: number } | { cmd: 'stop' };

const now = (): number => performance.timeOrigin + performance.now();
let frames: string[] = [];
let wss: WebSocketServer | undefined;
let timer: NodeJS.Timeout | undefined;
let sent = 0;
const sendTimes: number[] = [];

process.on('message', (cmd: Cmd) => {
  if (cmd.cmd === 'listen') {
    frames = JSON.parse(readFileSync(cmd.framesFile, 'utf8')) as string[];
    wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false }, () => {
      process.send!({ type: 'listening', port: (wss!.address() as AddressInfo).port });
    });
  } else if (cmd.cmd === 'start') {
    const tickMs = 50;
    let carry = 0;
    timer = setInterval(() => {
      carry += (cmd.rate * tickMs) / 1000;
      const n = Math.floor(carry);
      carry -= n;
      const at = now();
      for (let i = 0; i < n; i++) {
        const ordinal = sent++;
        if (ordinal % cmd.sampleEvery === 0) sendTimes.push(ordinal, at);
        const frame = frames[ordinal % frames.length];
        for (const client of wss!.clients) client.send(frame);
      }
    }, tickMs);
  } else if (cmd.cmd === 'stop') {
    clearInterval(timer);
    process.send!({ type: 'result', sent, sendTimes }, () => {
      for (const c of wss!.clients) c.terminate();
      wss!.close(() => process.exit(0));
    });
  }
});
