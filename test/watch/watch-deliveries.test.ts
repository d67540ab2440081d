/**
 * Issue 23, certstream-watch deliveries, end to end: the real `certstream-watch run` spawned from its
 * CLI, a real WebSocket feed on 127.0.0.1 that streams the certificates each test chooses, real HTTP
 * endpoints (healthy, refusing, slow, hanging, huge) and real SQLite.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Endpoint } from './support/endpoints.js';
import { certSha256, FakeFeed, type FakeCert } from './support/fake-feed.js';
import { startWatcher, storedMatches, until, type Proc } from './support/harness.js';

const ROOT = join(import.meta.dirname, '../..');

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/certstream-watch.ts'), ...args], {
    cwd: ROOT, encoding: 'utf8', timeout: 60_000, env: { PATH: process.env.PATH ?? '' },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function metricsOf(w: Proc): Promise<string> {
  const port = (await w.line('metrics listening')).port as number;
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

describe('certstream-watch deliveries (issue 23)', { timeout: 180_000 }, () => {
  let dir: string;
  let n = 0;
  const cleanups: (() => Promise<unknown> | void)[] = [];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'watch-deliveries-'));
  });
  after(async () => {
    for (const c of cleanups.reverse()) await c();
    await rm(dir, { recursive: true, force: true });
  });

  /** A fresh feed, watch file and database; the watcher with `args` after them. */
  async function setup(watchList: string, args: string[]): Promise<{ feed: FakeFeed; w: Proc; db: string; watchFile: string }> {
    const feed = new FakeFeed();
    await feed.start();
    cleanups.push(() => feed.close());
    const watchFile = join(dir, `w${++n}.watch`);
    await writeFile(watchFile, watchList);
    const db = `sqlite:${join(dir, `w${n}.sqlite`)}`;
    const w = startWatcher(['--feed', feed.url, '--watch', watchFile, '--db', db, '--metrics-port', '0', ...args]);
    cleanups.push(() => void w.child.kill('SIGKILL'));
    await Promise.race([feed.client(), w.exited.then((c) => Promise.reject(new Error(`the watcher exited (${c}): ${w.stderr()}`)))]);
    return { feed, w, db, watchFile };
  }

  it('international names are stored in ASCII beside Unicode and always deliverable; user-info becomes Basic auth; no secret in logs or metrics', async () => {
    const plain = await new Endpoint().start();
    let failOnce = true;
    const secret = new Endpoint((r, res) => {
      if (failOnce) {
        failOnce = false;
        return void res.writeHead(500).end();
      }
      secret.ok(r, res);
    });
    await secret.start();
    cleanups.push(() => plain.close(), () => secret.close());
    const port = new URL(secret.url).port;
    const secretUrl = `http://alice:s3cr%40t@127.0.0.1:${port}/hook?token=tok123`;
    const { feed, w, db } = await setup('пример.рф\n~login-\n', ['--webhook', plain.url, '--webhook', secretUrl, '--webhook-backoff', '0.05']);
    feed.send([
      { index: 1, domains: ['xn--e1afmkfd.xn--p1ai'] },
      { index: 2, domains: ['www.пример.рф'] },
      { index: 3, domains: ['login-\u0000nul.example', 'login-ünï.example', 'login-\r\nx: y.example'] },
    ]);
    await until(() => `${plain.delivered.length} of 5 delivered to the plain URL`, () => plain.delivered.length >= 5);
    await until(() => `${secret.delivered.length} of 5 delivered to the URL with user-info`, () => secret.delivered.length >= 5);
    for (const r of [...plain.delivered, ...secret.delivered]) {
      assert.equal(r.headers['idempotency-key'], r.body.id);
      assert.match(String(r.body.id), /^[\x21-\x7e]+$/);
      assert.match(String(r.body.domain), /^[\x21-\x7e]+$/);
    }
    const byIndex = new Map(plain.delivered.map((r) => [`${String(r.body.cert_index)} ${String(r.body.domain)}`, r.body.domain_unicode]));
    assert.equal(byIndex.get('1 xn--e1afmkfd.xn--p1ai'), 'пример.рф');
    assert.equal(byIndex.get('2 www.xn--e1afmkfd.xn--p1ai'), 'www.пример.рф');
    assert.equal(byIndex.get('3 xn--login-n-uza9i.example'), 'login-ünï.example');
    assert.equal(plain.delivered.length, 5, 'each once');
    for (const r of secret.delivered) assert.equal(r.headers.authorization, `Basic ${Buffer.from('alice:s3cr@t').toString('base64')}`);
    assert.equal(plain.delivered[0].headers.authorization, undefined);
    const stored = await storedMatches(db);
    assert.deepEqual(stored.map((m) => [m.domain, m.domainUnicode]).sort(), [
      ['login-%00nul.example', 'login-\ufffdnul.example'], ['login-%0D%0Ax:%20y.example', 'login-\ufffd\ufffdx: y.example'],
      ['www.xn--e1afmkfd.xn--p1ai', 'www.пример.рф'], ['xn--e1afmkfd.xn--p1ai', 'пример.рф'], ['xn--login-n-uza9i.example', 'login-ünï.example'],
    ]);

    const metrics = await metricsOf(w);
    w.child.kill('SIGTERM');
    assert.equal(await w.exited, 0, w.stderr());
    const failing = w.logs().find((l) => l.msg === 'webhook failing');
    assert.equal(failing?.target, `http://***@127.0.0.1:${port}/hook?***`);
    for (const text of [w.stdout(), w.stderr(), metrics]) {
      assert.ok(!text.includes('s3cr') && !text.includes('alice') && !text.includes('tok123'), 'no secret');
    }
  });

  it('a database URL with user-info and no host is refused without printing its secret', async () => {
    const watchFile = join(dir, 'db.watch');
    await writeFile(watchFile, 'example.com\n');
    const r = cli('run', '--feed', 'ws://127.0.0.1:9/', '--watch', watchFile, '--db', 'postgres://user:pw-secret@/db?sslpassword=x2', '--webhook', 'ftp://u:hook-secret@x/?k=v');
    assert.equal(r.status, 78);
    assert.ok(!/pw-secret|hook-secret|x2|k=v/.test(r.stderr), r.stderr);
    assert.match(r.stderr, /postgres:\/\/\*\*\*@\/db\?\*\*\*/);
    const e = cli('export', '--db', 'postgres://user:pw-secret@/db');
    assert.equal(e.status, 78);
    assert.ok(!e.stderr.includes('pw-secret'), e.stderr);
  });

  it('a slow, hanging or huge-bodied endpoint delays only its own deliveries; SIGTERM ends within 10 s', async () => {
    const healthy = await new Endpoint().start();
    const slow = await new Endpoint((_, res) => slow.slow(res)).start();
    const hanging = await new Endpoint(() => undefined).start();
    const huge = await new Endpoint((r, res) => huge.huge(r, res)).start();
    cleanups.push(() => healthy.close(), () => slow.close(), () => hanging.close(), () => huge.close());
    const { feed, w } = await setup('~login-\n', [
      '--webhook', slow.url, '--webhook', hanging.url, '--webhook', huge.url, '--webhook', healthy.url, '--webhook-timeout', '4', '--webhook-backoff', '0.1',
    ]);
    feed.send([{ index: 1, domains: ['login-1.example'] }]);
    await until(() => 'the first delivery everywhere', () => healthy.delivered.length === 1 && slow.requests.length === 1 && hanging.requests.length === 1);
    // While the slow and the hanging endpoints hold their first exchange, more matches arrive.
    const more: FakeCert[] = Array.from({ length: 10 }, (_, i) => ({ index: 2 + i, domains: [`login-${2 + i}.example`] }));
    feed.send(more);
    await until(() => `${healthy.delivered.length} of 11 delivered to the healthy endpoint`, () => healthy.delivered.length === 11, 20_000);
    await until(() => `${huge.delivered.length} of 11 delivered to the huge one`, () => huge.delivered.length === 11, 30_000);
    assert.ok(huge.hugeBytes < 11 * 16 * 2 ** 20, `the huge bodies were not read through: ${huge.hugeBytes} bytes written`);
    // The gauge follows the store (refreshed at most twice a second): the stuck deliveries show as pending.
    let metrics = '';
    await until(() => `the stuck deliveries pending in the metrics:\n${metrics}`, async () => /^certwatch_webhook_pending [1-9]/m.test((metrics = await metricsOf(w))), 10_000);
    const t0 = Date.now();
    w.child.kill('SIGTERM');
    const code = await w.exited;
    assert.ok(Date.now() - t0 < 10_000, `stopped in ${Date.now() - t0} ms`);
    assert.equal(code, 0, w.stderr());
  });

  it('a permanent refusal, or a failure past --delivery-max-age, becomes a dead letter that blocks nothing', async () => {
    const refusing = await new Endpoint((r, res) => (String(r.body.domain).startsWith('refuse-') ? res.writeHead(400).end('no') : refusing.ok(r, res))).start();
    const failing = await new Endpoint((r, res) => (r.body.cert_index === 1 ? res.writeHead(503).end() : failing.ok(r, res))).start();
    cleanups.push(() => refusing.close(), () => failing.close());
    const { feed, w, db } = await setup('example\n', [
      '--webhook', refusing.url, '--webhook', failing.url, '--delivery-max-age', '2', '--webhook-backoff', '0.2', '--webhook-backoff-max', '0.5',
    ]);
    feed.send([{ index: 1, domains: ['refuse-1.example'] }, { index: 2, domains: ['fine-2.example'] }]);
    await until(() => 'index 2 delivered to both', () => refusing.delivered.length === 1 && failing.delivered.length === 1, 30_000);
    assert.equal(refusing.delivered[0].body.cert_index, 2);
    assert.equal(failing.delivered[0].body.cert_index, 2);
    assert.equal(refusing.requests.filter((r) => r.body.cert_index === 1).length, 1, 'a 400 is not retried');
    assert.ok(failing.requests.filter((r) => r.body.cert_index === 1).length >= 2, 'a 503 is retried until the max age');
    const metrics = await metricsOf(w);
    assert.match(metrics, /^certwatch_dead_letters_total 2$/m);
    w.child.kill('SIGTERM');
    assert.equal(await w.exited, 0, w.stderr());
    assert.equal(w.logs().filter((l) => l.msg === 'delivery given up (dead letter)').length, 2, 'logged once each');
    const out = cli('export', '--db', db, '--dead-letters');
    assert.equal(out.status, 0, out.stderr);
    const lines = out.stdout.trimEnd().split('\n');
    assert.equal(lines[0], 'dead_at,target,kind,attempts,last_error,time,domain,rule,log,cert_index,fingerprint,serial,issuer,not_before,not_after,update_type,sighting_of,domain_unicode');
    assert.deepEqual(lines.slice(1).map((l) => l.split(',').slice(1, 5).concat(l.split(',')[6])).sort(), [
      [failing.url, 'webhook', lines.find((l) => l.includes(failing.url))!.split(',')[3], 'HTTP 503', 'refuse-1.example'],
      [refusing.url, 'webhook', '1', 'HTTP 400', 'refuse-1.example'],
    ].sort());
    assert.equal((await storedMatches(db)).length, 2);
  });

  it('--hook runs an executable per match without a shell, with the contract\'s variables; failures are retried, a hung hook is killed and dead-lettered', async () => {
    const out = join(dir, 'hook-out');
    await mkdir(out);
    // A path a shell would split and run; without a shell it is just a file name.
    const hook = join(dir, 'my hook; touch PWNED');
    await writeFile(hook, `#!/bin/sh\nif [ ! -e '${out}/failed-'"$ENTRY_INDEX" ]; then touch '${out}/failed-'"$ENTRY_INDEX"; echo first time >&2; exit 3; fi\nenv > '${out}/'"$ENTRY_INDEX"'.env'\n`);
    const hung = join(dir, 'hung-hook');
    await writeFile(hung, '#!/bin/sh\nexec sleep 1000\n');
    await chmod(hook, 0o755);
    await chmod(hung, 0o755);
    const { feed, w } = await setup('~login-\n', ['--hook', hook, '--hook', hung, '--hook-timeout', '0.5', '--delivery-max-age', '3', '--webhook-backoff', '0.1']);
    const c: FakeCert = { index: 7, domains: ['login-$(touch PWNED2).example', 'www.пример.рф'], serial: '0A1B', subject: '/CN=login', issuer: "/O=Let's Encrypt/CN=R11", der: Buffer.from('a leaf') };
    feed.send([c]);
    await until(() => 'the hook ran twice', () => existsSync(join(out, '7.env')), 30_000);
    const env = Object.fromEntries((await readFile(join(out, '7.env'), 'utf8')).trimEnd().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    assert.deepEqual(
      ['EVENT', 'WATCH_ITEM', 'DNS_NAMES', 'MATCHED_NAME', 'LOG_URI', 'ENTRY_INDEX', 'CERT_SHA256', 'SUBJECT', 'ISSUER', 'SERIAL', 'NOT_BEFORE', 'NOT_AFTER', 'UPDATE_TYPE'].map((k) => env[k]),
      ['match', '~login-', 'login-$(touch%20pwned2).example www.xn--e1afmkfd.xn--p1ai', 'login-$(touch%20pwned2).example', 'https://ct.example/log/', '7', certSha256(c),
        '/CN=login', "/O=Let's Encrypt/CN=R11", '0A1B', '2023-11-14T22:13:20.000Z', '2027-01-15T08:00:00.000Z', 'X509LogEntry'],
    );
    assert.match(env.MATCH_ID, /^ct\.example\/log#7#login-/);
    assert.match(feed.paths[0], /^\/full-stream\?id=w\d+$/, 'a server\'s / is read at /full-stream (the DER is needed)');
    await until(() => 'the hung hook dead-lettered', () => w.logs().some((l) => l.msg === 'delivery given up (dead letter)'), 30_000);
    const dead = w.logs().find((l) => l.msg === 'delivery given up (dead letter)')!;
    assert.equal(dead.kind, 'hook');
    assert.match(String(dead.error), /still running after 500 ms/);
    w.child.kill('SIGTERM');
    assert.equal(await w.exited, 0, w.stderr());
    assert.deepEqual((await readdir(dir)).filter((f) => f.startsWith('PWNED')), []);
    assert.ok(!existsSync(join(ROOT, 'PWNED')) && !existsSync(join(ROOT, 'PWNED2')));
  });
});
