import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { WebSocket } from 'ws';
import { createServerMetrics } from '../../src/metrics/server-metrics.js';
import { nextIndexes, polledAll, startFake, startReal, tempDir, testConfig, whenFake } from './server-harness.js';
import { metricValue } from '../stream/hub-harness.js';

const require = createRequire(import.meta.url);

/**
 * all_domains as an independent decoder reads the certificate: subject CN and DNS SANs, unique, sorted
 * (the fixture names are ASCII, where the default sort is certstream's byte order).
 */
function domainsOf(asDer: string): string[] {
  const cert = new x509.X509Certificate(Buffer.from(asDer, 'base64'));
  const cn = cert.subjectName.getField('CN');
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  const dns = san ? san.names.items.filter((n) => n.type === 'dns').map((n) => n.value) : [];
  return [...new Set([...cn.slice(-1), ...dns])].sort();
}
interface OfficialClient {
  ws: WebSocket;
  connect(url: string): void;
}
const CertStreamClient = require('certstream') as new (cb: (message: unknown) => void, skipHeartbeats?: boolean) => OfficialClient;

interface Update {
  message_type: 'certificate_update';
  data: {
    cert_index: number;
    update_type: string;
    seen: number;
    cert_link: string;
    source: { url: string; name: string };
    leaf_cert: { all_domains: string[]; as_der?: string; fingerprint: string };
    chain?: { as_der: string }[];
  };
}
interface DnsEntries {
  message_type: 'dns_entries';
  data: string[];
}

/** A receiving client: collects messages, resolves waits when a count is reached. */
function receiver() {
  const messages: unknown[] = [];
  let waiter: { n: number; resolve: () => void } | undefined;
  const push = (m: unknown) => {
    messages.push(m);
    if (waiter && messages.length >= waiter.n) {
      waiter.resolve();
      waiter = undefined;
    }
  };
  return {
    messages,
    push,
    until: (n: number) => (messages.length >= n ? Promise.resolve() : new Promise<void>((resolve) => (waiter = { n, resolve }))),
  };
}

async function open(url: string): Promise<{ ws: WebSocket; r: ReturnType<typeof receiver> }> {
  const ws = new WebSocket(url);
  const r = receiver();
  ws.on('message', (d) => r.push(JSON.parse(d.toString())));
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  return { ws, r };
}

function checkOrder(updates: Update[], start: Map<string, number>, perLog: number): void {
  const byLog = new Map<string, number[]>();
  for (const u of updates) {
    const list = byLog.get(u.data.source.url) ?? [];
    list.push(u.data.cert_index);
    byLog.set(u.data.source.url, list);
  }
  assert.deepEqual([...byLog.keys()].sort(), [...start.keys()].sort());
  for (const [log, indexes] of byLog) {
    const from = start.get(log) ?? -1;
    assert.deepEqual(indexes, Array.from({ length: perLog }, (_, i) => from + i), `${log}: strictly increasing, no gaps, no duplicates`);
  }
}

test('official and plain clients on all three streams receive correct frames from the fake logs', { timeout: 60_000 }, async (t) => {
  const fake = await startFake(t);
  const dir = await tempDir(t);
  const metrics = createServerMetrics({ processMetrics: false });
  const server = await startReal(testConfig(fake, dir), metrics);
  t.after(() => server.close());
  await whenFake(fake, () => polledAll(server));
  const start = nextIndexes(server);
  assert.equal(start.size, 2);

  const wsBase = server.url.replace('http:', 'ws:');
  // The official client on each stream, beside a plain ws client on the same stream.
  const officials = new Map<string, ReturnType<typeof receiver>>();
  const log = console.log;
  console.log = () => {}; // the official client announces itself on stdout
  try {
    for (const path of ['/', '/full-stream', '/domains-only']) {
      const r = receiver();
      const client = new CertStreamClient((m) => r.push(m), true);
      client.connect(`${wsBase}${path}`);
      t.after(() => client.ws.close());
      officials.set(path, r);
      await new Promise((resolve, reject) => client.ws.once('open', resolve).once('error', reject));
    }
  } finally {
    console.log = log;
  }
  const official = officials.get('/')!;
  const lite = await open(`${wsBase}/`);
  const full = await open(`${wsBase}/full-stream/`);
  const domains = await open(`${wsBase}/domains-only`);
  t.after(() => [lite, full, domains].forEach((c) => c.ws.close()));

  const perLog = 70;
  fake.append(perLog);
  const total = perLog * 2;
  await Promise.all([...[...officials.values()].map((o) => o.until(total)), lite.r.until(total), full.r.until(total), domains.r.until(total)]);

  const officialUpdates = official.messages as Update[];
  const liteUpdates = lite.r.messages as Update[];
  const fullUpdates = full.r.messages as Update[];
  checkOrder(officialUpdates, start, perLog);
  checkOrder(liteUpdates, start, perLog);
  checkOrder(fullUpdates, start, perLog);
  assert.deepEqual(officialUpdates, liteUpdates, 'the official client sees the same frames');
  assert.deepEqual(officials.get('/full-stream')!.messages, fullUpdates, 'official client on /full-stream');
  assert.deepEqual(officials.get('/domains-only')!.messages, domains.r.messages, 'official client on /domains-only');

  const logs = new Map(fake.logs.map((l) => [l.url, l]));
  for (const u of liteUpdates) {
    assert.equal(u.message_type, 'certificate_update');
    assert.ok(['X509LogEntry', 'PrecertLogEntry'].includes(u.data.update_type));
    assert.equal(u.data.source.name, logs.get(u.data.source.url)?.name);
    assert.equal(u.data.leaf_cert.as_der, undefined, 'lite: no as_der');
    assert.equal(u.data.chain, undefined, 'lite: no chain');
  }
  const key = (u: Update) => `${u.data.source.url}#${u.data.cert_index}`;
  const fullByKey = new Map(fullUpdates.map((u) => [key(u), u]));
  for (const u of liteUpdates) {
    const f = fullByKey.get(key(u));
    assert.ok(f, key(u));
    assert.equal(typeof f.data.leaf_cert.as_der, 'string');
    assert.ok(Array.isArray(f.data.chain) && f.data.chain.length > 0, 'full: chain');
    assert.equal(f.data.leaf_cert.fingerprint, u.data.leaf_cert.fingerprint);
    assert.deepEqual(u.data.leaf_cert.all_domains, domainsOf(f.data.leaf_cert.as_der!), `${key(u)}: all_domains against @peculiar/x509`);
  }
  assert.ok(liteUpdates.every((u) => u.data.leaf_cert.all_domains.length > 0), 'every fixture certificate names a domain');
  const dns = domains.r.messages as DnsEntries[];
  // One dns_entries frame per certificate, in the same order as the lite stream.
  assert.deepEqual(
    dns.map((d) => d.data),
    liteUpdates.map((u) => u.data.leaf_cert.all_domains),
  );
  assert.ok(dns.every((d) => d.message_type === 'dns_entries'));

  const counted =
    (await metricValue(metrics, 'certstream_entries_total', { update_type: 'X509LogEntry' })) +
    (await metricValue(metrics, 'certstream_entries_total', { update_type: 'PrecertLogEntry' }));
  assert.ok(counted >= perLog, 'entries are counted');
  const health = server.health();
  assert.equal(health.status, 'ok');
  assert.equal(health.clients, 6);
  const latest = (await (await fetch(`${server.url}/latest.json`)).json()) as { messages: Update[] };
  assert.equal(latest.messages.length, 25);
  const example = (await (await fetch(`${server.url}/example.json`)).json()) as Update;
  assert.deepEqual(example, latest.messages[0]);
});

test('a restart with the same state directory resumes without loss or repetition', { timeout: 60_000 }, async (t) => {
  const fake = await startFake(t);
  const dir = await tempDir(t);
  const first = await startReal(testConfig(fake, dir));
  await whenFake(fake, () => polledAll(first));
  const wsBase1 = first.url.replace('http:', 'ws:');
  const a = await open(`${wsBase1}/`);
  fake.append(40);
  await a.r.until(80);
  const streamed = nextIndexes(first);
  await first.close();
  const seenBefore = new Set((a.r.messages as Update[]).map((u) => `${u.data.source.url}#${u.data.cert_index}`));

  // While it is down the logs grow; the restarted server must first see the old heads (pinned), so that
  // a client can connect before it streams what it missed.
  const pinned = fake.logs.map((l) => [l.url, fake.size(l.url)] as const);
  fake.append(33);
  for (const [url, size] of pinned) fake.pinHead(url, size);
  const second = await startReal(testConfig(fake, dir));
  t.after(() => second.close());
  await whenFake(fake, () => polledAll(second));
  assert.deepEqual(nextIndexes(second), streamed, 'resumes at the saved cursors');
  const b = await open(`${second.url.replace('http:', 'ws:')}/`);
  t.after(() => b.ws.close());
  for (const [url] of pinned) fake.pinHead(url, undefined);
  fake.append(5);
  await b.r.until(2 * 38);
  const after = b.r.messages as Update[];
  for (const u of after) assert.ok(!seenBefore.has(`${u.data.source.url}#${u.data.cert_index}`), 'no repetition');
  const byLog = new Map<string, number[]>();
  for (const u of after) byLog.set(u.data.source.url, [...(byLog.get(u.data.source.url) ?? []), u.data.cert_index]);
  for (const [url, from] of streamed) {
    assert.deepEqual(byLog.get(url), Array.from({ length: 38 }, (_, i) => from + i), `${url}: no loss`);
  }
});
