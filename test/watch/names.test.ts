/**
 * The two forms of a stored name and the header-safe match id (issue 23: one international name made
 * fetch throw on the Idempotency-Key header and blocked its webhook URL for good), and the redaction of
 * secrets in URLs. Pure.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { asciiName, displayName, percentEscape } from '../../src/watch/names.js';
import { redactUrl } from '../../src/watch/redact.js';
import { parseWatchFile } from '../../src/watch/rules.js';
import { matchKey } from '../../src/watch/webhook-body.js';

describe('stored names', () => {
  it('ASCII form: punycode for IDNA labels, percent-escapes for what IDNA cannot encode, ASCII names untouched', () => {
    assert.equal(asciiName('пример.рф'), 'xn--e1afmkfd.xn--p1ai');
    assert.equal(asciiName('www.bücher.example'), 'www.xn--bcher-kva.example');
    assert.equal(asciiName('0x7f.1'), '0x7f.1', 'not read as an IPv4 address');
    assert.equal(asciiName('a\u0000b.example'), 'a%00b.example');
    assert.equal(asciiName('a b.example'), 'a%20b.example');
    assert.equal(asciiName('x\ud800.example'), 'x%EF%BF%BD.example');
    for (const n of ['пример.рф', 'a\r\nb', '\u202e.com', 'ok.example', '%41.example']) assert.match(asciiName(n), /^[\x21-\x7e]+$/);
    assert.notEqual(asciiName('%41.example'), asciiName('A.example'), 'the escape is injective');
  });

  it('display form: decoded, control characters and lone surrogates replaced', () => {
    assert.equal(displayName('пример.рф'), 'пример.рф');
    assert.equal(displayName('a\u0000\tb\ud800'), 'a\ufffd\ufffdb\ufffd');
  });

  it('a match id is a valid header value whatever the rule or log holds', () => {
    const id = matchKey({ log: 'ct.example/лог', certIndex: 1, domain: 'xn--e1afmkfd.xn--p1ai', rule: 'пример.рф' });
    assert.match(id, /^[\x21-\x7e]+$/);
    assert.doesNotThrow(() => new Headers({ 'idempotency-key': id }));
    assert.equal(matchKey({ log: 'ct.example/log', certIndex: 2, domain: 'a.example', rule: '~a' }), 'ct.example/log#2#a.example#~a', 'ASCII ids unchanged');
    assert.equal(percentEscape('100%'), '100%25');
  });

  it('a rule with control characters is refused with its line', () => {
    assert.deepEqual(parseWatchFile('ok.example\nbad\u0000.example\n').problems.map((p) => p.line), [2]);
  });
});

describe('redactUrl', () => {
  it('hides user-info and query strings, also in URLs that do not parse and inside longer text', () => {
    assert.equal(redactUrl('postgres://user:pw@/db'), 'postgres://***@/db');
    assert.equal(redactUrl('https://hooks.slack.com/services/T0/B0/x?token=abc'), 'https://hooks.slack.com/services/T0/B0/x?***');
    assert.equal(redactUrl('POST http://u:p@127.0.0.1:80/h?a=b#f failed'), 'POST http://***@127.0.0.1:80/h?***#f failed');
    assert.equal(redactUrl('ws://127.0.0.1:9/full-stream'), 'ws://127.0.0.1:9/full-stream');
  });
});
