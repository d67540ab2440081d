import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { expectedOrigin, splitSignedNote } from '../../src/ct/checkpoint.js';
import { isCertstreamError, type ErrorCode } from '../../src/errors.js';
import { rfc6962NoteKeyId, verifyCheckpoint } from '../../src/verify/checkpoint-signature.js';
import { parseLogKey } from '../../src/verify/log-key.js';
import { archeCheckpoint, flip, listed, sycamoreCheckpoint } from './fixtures.js';

const sycamore = listed("Let's Encrypt 'Sycamore2026h1'");
const arche = listed("Google 'Arche2026h1' log");
const sycamoreKey = parseLogKey(sycamore.key, sycamore.log_id);
const archeKey = parseLogKey(arche.key, arche.log_id);
const sycamoreOrigin = expectedOrigin(sycamore.submission_url!);
const archeOrigin = expectedOrigin(arche.submission_url!);

function throwsCode(fn: () => unknown, codes: ErrorCode[], label: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isCertstreamError(err, ...codes), `${label}: expected ${codes.join('|')}, got ${String(err)}`);
    return true;
  }, label);
}

/** The checkpoint with the base64 of signature line `n` (0-based) replaced by f(bytes). */
function editLine(note: string, n: number, f: (b: Buffer) => Buffer): string {
  const lines = note.split('\n');
  const sigStart = lines.indexOf('') + 1;
  const parts = lines[sigStart + n].split(' ');
  parts[2] = f(Buffer.from(parts[2], 'base64')).toString('base64');
  lines[sigStart + n] = parts.join(' ');
  return lines.join('\n');
}

test('the real Sycamore 2026h1 and Arche 2026h1 checkpoints verify with the keys of the log list', () => {
  const s = verifyCheckpoint(sycamoreCheckpoint, sycamoreKey, sycamoreOrigin);
  assert.equal(s.origin, 'log.sycamore.ct.letsencrypt.org/2026h1');
  assert.equal(s.treeSize, 804475391);
  assert.equal(Buffer.from(s.rootHash).toString('base64'), 'c3k2gkKg8h3egIcrhvRi2+JQeid6pmZgfmOGzkrfW8o=');
  assert.equal(s.timestamp, 0x19bf14c20be); // the uint64 at the start of the signature: 2026-01-24
  const a = verifyCheckpoint(archeCheckpoint, archeKey, archeOrigin);
  assert.equal(a.treeSize, 1822167730);
  assert.equal(new Date(a.timestamp).toISOString().slice(0, 10), '2026-01-15');
});

test('the key ID is SHA-256(origin || 0x0A || 0x05 || LogID)[:4], LogID being SHA-256 of the SPKI', () => {
  // The log's line in each real checkpoint carries this ID...
  assert.equal(rfc6962NoteKeyId(sycamoreOrigin, sycamoreKey.logId).toString('base64'), 'EEuevw==');
  assert.equal(rfc6962NoteKeyId(archeOrigin, archeKey.logId).toString('base64'), 'R58dNg==');
  // ...and hashing the SPKI DER itself instead of the LogID would give IDs no line carries.
  const spkiBased = createHash('sha256').update(`${sycamoreOrigin}\n`).update(Buffer.from([5])).update(sycamoreKey.spki).digest().subarray(0, 4);
  assert.ok(!splitSignedNote(sycamoreCheckpoint).signatures.some((s) => s.keyId.equals(spkiBased)));
});

test('lines by other keys are ignored: witnesses, grease, the log\'s Ed25519 line, a malformed same-name line', () => {
  const { signatures } = splitSignedNote(archeCheckpoint);
  assert.equal(signatures.length, 7);
  // Dropping every other line changes nothing.
  const lines = archeCheckpoint.split('\n');
  const only = [...lines.slice(0, 5), lines[5], ''].join('\n');
  assert.equal(verifyCheckpoint(only, archeKey, archeOrigin).treeSize, 1822167730);
  // Sycamore: the same key name carries an 8-byte grease, an RFC 6962 and an Ed25519 signature.
  assert.equal(splitSignedNote(sycamoreCheckpoint).signatures.filter((s) => s.keyName === sycamoreOrigin).length, 3);
});

test('a flipped bit in the root, the size, the signature or its timestamp fails with VERIFY_ERR_SIGNATURE', () => {
  for (const [note, key, origin, line] of [
    [sycamoreCheckpoint, sycamoreKey, sycamoreOrigin, 2],
    [archeCheckpoint, archeKey, archeOrigin, 0],
  ] as const) {
    const lines = note.split('\n');
    const root = Buffer.from(lines[2], 'base64');
    const variants: [string, string][] = [
      ['root bit', [lines[0], lines[1], flip(root, 0).toString('base64'), ...lines.slice(3)].join('\n')],
      ['size + 1', [lines[0], String(Number(lines[1]) + 1), ...lines.slice(2)].join('\n')],
      ['timestamp bit', editLine(note, line, (b) => flip(b, 4 + 7))],
      ['signature bit (r)', editLine(note, line, (b) => flip(b, b.length - 40))],
      ['signature bit (last)', editLine(note, line, (b) => flip(b, b.length - 1, 3))],
      ['truncated signature', editLine(note, line, (b) => b.subarray(0, b.length - 1))],
      ['only a timestamp', editLine(note, line, (b) => b.subarray(0, 12))],
    ];
    for (const [label, v] of variants) throwsCode(() => verifyCheckpoint(v, key, origin), ['VERIFY_ERR_SIGNATURE'], `${origin}: ${label}`);
  }
});

test('another log\'s key, a flipped key, or no line by the log\'s key: VERIFY_ERR_SIGNATURE (or VERIFY_ERR_KEY)', () => {
  throwsCode(() => verifyCheckpoint(sycamoreCheckpoint, archeKey, sycamoreOrigin), ['VERIFY_ERR_SIGNATURE'], 'Arche key');
  const spki = sycamoreKey.spki;
  for (let at = 0; at < spki.length; at += 7) {
    throwsCode(() => verifyCheckpoint(sycamoreCheckpoint, parseLogKey(flip(spki, at).toString('base64')), sycamoreOrigin), ['VERIFY_ERR_SIGNATURE', 'VERIFY_ERR_KEY'], `key byte ${at}`);
  }
  const lines = sycamoreCheckpoint.split('\n');
  const withoutLog = lines.filter((l) => !l.includes(' EEuevw')).join('\n');
  throwsCode(() => verifyCheckpoint(withoutLog, sycamoreKey, sycamoreOrigin), ['VERIFY_ERR_SIGNATURE'], 'line removed');
  // The right ID under another name (a witness imitating the log) is not the log's line either.
  const renamed = sycamoreCheckpoint.replace(`— ${sycamoreOrigin} EEuevw`, '— witness.example EEuevw');
  throwsCode(() => verifyCheckpoint(renamed, sycamoreKey, sycamoreOrigin), ['VERIFY_ERR_SIGNATURE'], 'renamed');
});

test('a second line by the log\'s key that does not verify rejects the note', () => {
  const lines = sycamoreCheckpoint.trimEnd().split('\n');
  const logLine = lines.find((l) => l.includes(' EEuevw'))!;
  const parts = logLine.split(' ');
  const broken = `${parts[0]} ${parts[1]} ${flip(Buffer.from(parts[2], 'base64'), 30).toString('base64')}`;
  throwsCode(() => verifyCheckpoint(`${[...lines, broken].join('\n')}\n`, sycamoreKey, sycamoreOrigin), ['VERIFY_ERR_SIGNATURE'], 'extra bad line');
});

test('origin and shape: CT_ERR_ORIGIN_MISMATCH, CT_ERR_BAD_CHECKPOINT', () => {
  throwsCode(() => verifyCheckpoint(sycamoreCheckpoint, sycamoreKey, 'log.sycamore.ct.letsencrypt.org/2026h2'), ['CT_ERR_ORIGIN_MISMATCH'], 'origin');
  const lines = sycamoreCheckpoint.split('\n');
  const withExtension = [...lines.slice(0, 3), 'extension line', ...lines.slice(3)].join('\n');
  throwsCode(() => verifyCheckpoint(withExtension, sycamoreKey, sycamoreOrigin), ['CT_ERR_BAD_CHECKPOINT'], 'extension line');
  for (const [label, note] of [
    ['no final newline', sycamoreCheckpoint.trimEnd()],
    ['no blank line', lines.slice(0, 3).join('\n') + '\n'],
    ['hyphen instead of em dash', sycamoreCheckpoint.replace('— grease', '- grease')],
    ['space in signature', sycamoreCheckpoint.replace('— grease.invalid AAgg', '— grease.invalid AA gg')],
    ['not base64', sycamoreCheckpoint.replace('— grease.invalid AAgg', '— grease.invalid A!gg')],
  ] as [string, string][]) {
    throwsCode(() => verifyCheckpoint(note, sycamoreKey, sycamoreOrigin), ['CT_ERR_BAD_CHECKPOINT'], label);
  }
});
