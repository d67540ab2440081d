import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expectedOrigin, parseCheckpoint } from '../../src/ct/checkpoint.js';
import { parseLogList } from '../../src/ct/log-list.js';
import { isCertstreamError } from '../../src/errors.js';

const fixtures = fileURLToPath(new URL('../fixtures/', import.meta.url));
const sycamore = readFileSync(fixtures + 'static-ct/checkpoints/sycamore2026h1.checkpoint.txt', 'utf8');
const arche = readFileSync(fixtures + 'static-ct/checkpoints/arche2026h1-staging.checkpoint.txt', 'utf8');
const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');

function assertBad(text: string, pattern: RegExp): void {
  assert.throws(
    () => parseCheckpoint(text),
    (err: unknown) => {
      assert.ok(isCertstreamError(err, 'CT_ERR_BAD_CHECKPOINT'), `expected CT_ERR_BAD_CHECKPOINT, got ${String(err)}`);
      assert.match(err.message, pattern);
      return true;
    },
    JSON.stringify(text.slice(0, 80)),
  );
}

test('Sycamore 2026h1 checkpoint: origin, size, root hash; the 4 signature lines are ignored', () => {
  const cp = parseCheckpoint(sycamore);
  assert.equal(cp.origin, 'log.sycamore.ct.letsencrypt.org/2026h1');
  assert.equal(cp.treeSize, 804475391);
  assert.equal(cp.rootHash.length, 32);
  assert.equal(b64(cp.rootHash), 'c3k2gkKg8h3egIcrhvRi2+JQeid6pmZgfmOGzkrfW8o=');
});

test('Arche 2026h1 staging checkpoint (7 signature lines incl. witnesses)', () => {
  const cp = parseCheckpoint(arche);
  assert.equal(cp.origin, 'arche2026h1.staging.ct.transparency.dev');
  assert.equal(cp.treeSize, 1822167730);
  assert.equal(b64(cp.rootHash), 'FqMvvl+opIdNGueAnE7eTPtlV9Ot53hcarJRzvlwgbA=');
});

test('expectedOrigin of the fixture logs equals the origin their checkpoints carry', () => {
  const v85 = parseLogList(JSON.parse(readFileSync(fixtures + 'loglist/log_list_v85.92.json', 'utf8')));
  const syc = v85.find((e) => e.description === "Let's Encrypt 'Sycamore2026h1'");
  assert.ok(syc?.submissionUrl);
  assert.equal(expectedOrigin(syc.submissionUrl), parseCheckpoint(sycamore).origin);
  const all = parseLogList(JSON.parse(readFileSync(fixtures + 'loglist/all_logs_list_v78.2.json', 'utf8')));
  const ar = all.find((e) => e.submissionUrl === 'https://arche2026h1.staging.ct.transparency.dev/');
  assert.ok(ar?.submissionUrl);
  assert.equal(expectedOrigin(ar.submissionUrl), parseCheckpoint(arche).origin);
  // Every tiled log of the list has an origin without scheme or trailing slash.
  for (const e of v85.filter((x) => x.kind === 'static')) {
    const o = expectedOrigin(e.submissionUrl ?? '');
    assert.doesNotMatch(o, /^https?:|\/$/);
    assert.ok(o.length > 0);
  }
});

test('expectedOrigin strips the scheme and every trailing slash, nothing else', () => {
  assert.equal(expectedOrigin('https://log.example/2026h1/'), 'log.example/2026h1');
  assert.equal(expectedOrigin('http://log.example/2026h1'), 'log.example/2026h1');
  assert.equal(expectedOrigin('HTTPS://Log.Example//'), 'Log.Example');
  assert.equal(expectedOrigin('https://127.0.0.1:8443/logs/a/'), '127.0.0.1:8443/logs/a');
  assert.equal(expectedOrigin('log.example/x/'), 'log.example/x');
});

test('minimal forms: no signatures, extension lines, size 0', () => {
  const hash = 'c3k2gkKg8h3egIcrhvRi2+JQeid6pmZgfmOGzkrfW8o=';
  assert.equal(parseCheckpoint(`a.example/log\n0\n${hash}\n`).treeSize, 0);
  assert.equal(parseCheckpoint(`a.example/log\n12\n${hash}\next one\next two\n\n— a.example/log AAAA\n`).treeSize, 12);
  assert.equal(parseCheckpoint(`a.example/log\n${Number.MAX_SAFE_INTEGER}\n${hash}\n\n`).treeSize, Number.MAX_SAFE_INTEGER);
});

test('malformed checkpoints are rejected with CT_ERR_BAD_CHECKPOINT', () => {
  const hash = 'c3k2gkKg8h3egIcrhvRi2+JQeid6pmZgfmOGzkrfW8o=';
  const o = 'log.example/2026h1';
  assertBad('', /fewer than 3 lines/);
  assertBad(`${o}\n5`, /fewer than 3 lines/);
  assertBad(`${o}\n5\n\n${hash}\n`, /fewer than 3 lines/);
  assertBad(`\n5\n${hash}\n`, /origin/);
  assertBad(` ${o}\n5\n${hash}\n`, /origin/);
  assertBad(`log example\n5\n${hash}\n`, /origin/);
  assertBad(`${o}\r\n5\r\n${hash}\r\n\r\n`, /origin/); // CRLF is not a signed note
  assertBad(`${o}\n-1\n${hash}\n`, /not a decimal/);
  assertBad(`${o}\n+5\n${hash}\n`, /not a decimal/);
  assertBad(`${o}\n05\n${hash}\n`, /not a decimal/);
  assertBad(`${o}\n5.0\n${hash}\n`, /not a decimal/);
  assertBad(`${o}\n0x10\n${hash}\n`, /not a decimal/);
  assertBad(`${o}\n 5\n${hash}\n`, /not a decimal/);
  assertBad(`${o}\n9007199254740993\n${hash}\n`, /too large/);
  assertBad(`${o}\n5\n${hash.slice(0, -2)}=\n`, /root hash/); // 31 bytes
  assertBad(`${o}\n5\nAAAA${hash}\n`, /root hash/); // 35 bytes
  assertBad(`${o}\n5\n${hash.replace('+', '-')}\n`, /root hash/); // base64url
  assertBad(`${o}\n5\n${hash} \n`, /root hash/);
  // The fixtures themselves, cut before the hash line ends.
  assertBad(sycamore.slice(0, sycamore.indexOf('=')), /root hash/);
  assertBad(arche.replace('1822167730', '1822167730x'), /not a decimal/);
});
