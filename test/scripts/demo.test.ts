// `npm run demo -- --port N` (as the README says) serves on N; a mistaken flag says so in one line, exit 2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { freePort } from '../support/free-port.js';

const ROOT = join(import.meta.dirname, '../..');

test('npm run demo -- --port N listens on N, and a Ctrl-C stops it', { timeout: 60_000 }, async () => {
  const port = await freePort();
  const child = spawn('npm', ['run', '--silent', 'demo', '--', '--port', String(port), '--rate', '5'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let err = '';
  try {
    await new Promise<void>((resolve, reject) => {
      child.stderr!.on('data', (d: Buffer) => {
        err += String(d);
        if (err.includes(`ws://127.0.0.1:${port}/full-stream`)) resolve();
      });
      child.once('exit', (code) => reject(new Error(`demo exited with ${code}: ${err}`)));
    });
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(health.status === 200 || health.status === 503, true);
    assert.equal(((await health.json()) as { clients: number }).clients, 0);
  } finally {
    // Ctrl-C reaches the whole process group (npm, tsx, the demo); npm itself reports the signal.
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    process.kill(-child.pid!, 'SIGINT');
    await exited;
    await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`), 'the demo server is gone');
  }
});

test('a mistaken demo flag is one line and exit 2', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/demo.ts', '--prot', '4100'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^demo: .*'--prot'.*\nusage: npm run demo -- \[--port N\]/);
});
