/**
 * Waits for a spawned certstream-server to log `listening` and returns its port (it is started with
 * `--port 0`). Rejects with the output so far if the server exits first.
 */
import type { ChildProcess } from 'node:child_process';

export function listeningPort(server: ChildProcess): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let buf = '';
    server.stdout!.setEncoding('utf8').on('data', (c: string) => {
      if (buf.length < 1e6) buf += c;
      const m = /"msg":"listening"[^\n]*"port":(\d+)/.exec(buf);
      if (m) resolve(Number(m[1]));
    });
    server.once('exit', (code) => reject(new Error(`server exited (${code}): ${buf}`)));
  });
}
