// Every real fixture entry (41 RFC 6962 entries, 256 static-ct entries) renders, and the three frames
// relate exactly as the wire format says: lite = full minus data.chain and data.leaf_cert.as_der,
// dns_entries data = leaf all_domains, as_der/fingerprint are the entry's own bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { CtEntry, LogDescriptor } from '../../src/ct/types.js';
import { Renderer } from '../../src/render/renderer.js';
import { RFC6962_LOG, STATIC_LOG, rfc6962Entries, staticEntries } from '../x509/corpus.js';

interface Frame {
  data: {
    cert_index: number;
    cert_link: string;
    chain?: { as_der: string; fingerprint: string }[];
    leaf_cert: { all_domains: string[]; as_der?: string; fingerprint: string };
    seen: number;
    source: { name: string; url: string };
    update_type: string;
  };
  message_type: string;
}

const fp = (der: Uint8Array): string => createHash('sha1').update(der).digest('hex').toUpperCase().match(/../g)!.join(':');

function check(log: LogDescriptor, entries: CtEntry[]): { x509: number; precert: number } {
  const r = new Renderer();
  const counts = { x509: 0, precert: 0 };
  for (const e of entries) {
    const frames = r.render(log, e, 1779269400.25);
    const full = JSON.parse(frames.full) as Frame;
    const lite = JSON.parse(frames.lite) as Frame;
    const dns = JSON.parse(frames.domains) as { data: string[]; message_type: string };
    const where = `${log.name} #${e.index}`;
    assert.equal(full.message_type, 'certificate_update');
    assert.equal(full.data.cert_index, e.index, where);
    assert.equal(full.data.update_type, e.type === 'precert' ? 'PrecertLogEntry' : 'X509LogEntry', where);
    assert.deepEqual(full.data.source, { name: log.name, url: log.url });
    assert.equal(full.data.seen, 1779269400.25);
    assert.equal(full.data.leaf_cert.as_der, Buffer.from(e.leaf).toString('base64'), where);
    assert.equal(full.data.leaf_cert.fingerprint, fp(e.leaf), where);
    assert.equal(full.data.chain!.length, e.chain.length, where);
    full.data.chain!.forEach((c, i) => {
      assert.equal(c.as_der, Buffer.from(e.chain[i]).toString('base64'), `${where} chain ${i}`);
      assert.equal(c.fingerprint, fp(e.chain[i]), `${where} chain ${i}`);
      assert.equal('all_domains' in c, false);
    });
    const stripped = structuredClone(full);
    delete stripped.data.chain;
    delete stripped.data.leaf_cert.as_der;
    assert.deepEqual(lite, stripped, where);
    assert.equal(Object.keys(lite.data).join(','), 'cert_index,cert_link,leaf_cert,seen,source,update_type');
    assert.deepEqual(dns, { data: full.data.leaf_cert.all_domains, message_type: 'dns_entries' });
    assert.deepEqual(frames.allDomains, dns.data);
    assert.ok(dns.data.length > 0, `${where}: a real CT leaf has names`);
    counts[e.type]++;
  }
  return counts;
}

test('all 41 real RFC 6962 entries render with consistent frames', () => {
  const counts = check(RFC6962_LOG, rfc6962Entries());
  assert.deepEqual(counts, { x509: 26, precert: 15 });
});

test('all 256 real static-ct entries render with consistent frames and tile cert_links', () => {
  const entries = staticEntries();
  const counts = check(STATIC_LOG, entries);
  assert.equal(counts.x509 + counts.precert, 256);
  const r = new Renderer();
  const link = (JSON.parse(r.render(STATIC_LOG, entries[5], 1).lite) as Frame).data.cert_link;
  assert.equal(link, 'https://navigli2025h2.skylight.geomys.org/tile/data/000');
});
