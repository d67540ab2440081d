// In-container command agent of the nspawn end-to-end test (plain JavaScript: the container has node
// but no tsx). Runs as a root service inside the booted container, listens on 127.0.0.1 (loopback is
// shared with the host) and runs shell commands the host test posts, so the scenario can be written on
// the host in one place and interleave container commands with the in-process fake CT log.
// Usage: node e2e-agent.mjs CTL_DIR   (CTL_DIR holds `token`; the agent writes `agent.json` there)
import { createServer } from 'node:http';
import { spawn } from 'node:child_process';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ctl = process.argv[2];
const token = readFileSync(join(ctl, 'token'), 'utf8').trim();

function run(cmd, timeoutMs) {
  return new Promise((resolve) => {
    const child = spawn('/bin/bash', ['-c', cmd], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

const server = createServer((req, res) => {
  let body = '';
  req.setEncoding('utf8').on('data', (d) => (body += d));
  req.on('end', () => {
    let msg;
    try {
      msg = JSON.parse(body);
    } catch {
      res.writeHead(400).end();
      return;
    }
    if (msg.token !== token || typeof msg.cmd !== 'string') {
      res.writeHead(403).end();
      return;
    }
    run(msg.cmd, typeof msg.timeoutMs === 'number' ? msg.timeoutMs : 60_000).then((r) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(r));
    });
  });
});

server.listen(0, '127.0.0.1', () => {
  const tmp = join(ctl, 'agent.json.tmp');
  writeFileSync(tmp, JSON.stringify({ port: server.address().port }));
  renameSync(tmp, join(ctl, 'agent.json'));
});
