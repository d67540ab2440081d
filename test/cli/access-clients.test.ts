// The clients against a server with tokens and native TLS (a CA made by the test): certaudit health,
// certaudit record and certstream-watch run take the token from their environment variable (or flag)
// and trust the CA from --ca or NODE_EXTRA_CA_CERTS; none of them prints the token.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { TestCa } from '../support/tls-certs.js';
import { startFake, startReal, tempDir, testConfig } from '../server/server-harness.js';

const ROOT = join(import.meta.dirname, '../..');
const TOKEN = 'client-s3cret-token';

interface Ran {
  code: number | null;
  out: string;
}

/** Runs a CLI to its end with a minimal environment plus `env`. */
async function runCli(entry: string, args: string[], env: Record<string, string>): Promise<Ran> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, entry), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env } });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, out };
}

test('certaudit health, certaudit record and certstream-watch reach a wss:// server with a token', { timeout: 180_000 }, async (t) => {
  const ca = TestCa.create();
  t.after(() => ca.remove());
  const leaf = ca.leaf();
  const fake = await startFake(t, { rfc6962Logs: 1, staticLogs: 0, initialSize: 5 });
  const dir = await tempDir(t);
  const tokens = join(dir, 'tokens');
  await writeFile(tokens, `clients ${createHash('sha256').update(TOKEN).digest('hex')}\n`);
  const server = await startReal(testConfig(fake, dir, { tokens, tlsCert: leaf.certFile, tlsKey: leaf.keyFile, heartbeatIntervalMs: 1000, maxLag: 1_000_000 }));
  t.after(() => server.close());
  const https = server.url;
  const wss = https.replace(/^https/, 'wss');

  // health: the token from CERTAUDIT_TOKEN, the CA from --ca or NODE_EXTRA_CA_CERTS.
  const withCa = await runCli('src/cli/certaudit.ts', ['health', '--url', https, '--ca', ca.certFile, '--timeout', '20'], { CERTAUDIT_TOKEN: TOKEN });
  assert.notEqual(withCa.code, 2, withCa.out);
  assert.match(withCa.out, /^CERTSTREAM (OK|WARNING)/);
  const extraCa = await runCli('src/cli/certaudit.ts', ['health', '--url', https, '--timeout', '20', '--token', TOKEN, '--json'], { NODE_EXTRA_CA_CERTS: ca.certFile });
  assert.notEqual(extraCa.code, 2, extraCa.out);
  const noToken = await runCli('src/cli/certaudit.ts', ['health', '--url', https, '--ca', ca.certFile, '--timeout', '20'], {});
  assert.equal(noToken.code, 2);
  assert.match(noToken.out, /401/);
  const untrusted = await runCli('src/cli/certaudit.ts', ['health', '--url', https, '--timeout', '20'], { CERTAUDIT_TOKEN: TOKEN });
  assert.equal(untrusted.code, 2, 'without the CA the certificate is not trusted');

  // record: entries arrive over wss:// with the token.
  const out = join(dir, 'rec.ndjson');
  const recorded = await runCli('src/cli/certaudit.ts', ['record', '--feed', `${wss}/`, '--out', out, '--duration', '3', '--ca', ca.certFile], { CERTAUDIT_TOKEN: TOKEN });
  assert.equal(recorded.code, 0, recorded.out);
  assert.match(await readFile(out, 'utf8'), /"ev":"connect"/);

  // certstream-watch run: the durable feed connects with CERTWATCH_TOKEN and --ca.
  const watchFile = join(dir, 'watch.txt');
  await writeFile(watchFile, 'example.com\n');
  const watcher = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/certstream-watch.ts'), 'run', '--feed', `${wss}/`, '--watch', watchFile, '--db', `sqlite:${join(dir, 'watch.sqlite')}`, '--ca', ca.certFile], {
    cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', CERTWATCH_TOKEN: TOKEN },
  });
  t.after(() => watcher.kill('SIGKILL'));
  const lines: string[] = [];
  let stderr = '';
  watcher.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: watcher.stdout }).on('line', (l) => {
      lines.push(l);
      if (l.includes('"feed connected"')) resolve();
    });
    watcher.once('exit', (code) => reject(new Error(`certstream-watch exited ${code}: ${stderr}`)));
  });
  watcher.kill('SIGTERM');
  await once(watcher, 'close');

  for (const [what, text] of [['health', withCa.out + extraCa.out + noToken.out], ['record', recorded.out], ['watch', lines.join('\n') + stderr]]) {
    assert.ok(!text.includes(TOKEN), `${what} printed the token`);
  }
});
