// systemd/certstream-server.default must list every CERTSTREAM_* variable the daemon reads, commented,
// with its default, and the units must read it the way systemd.md says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { OPTIONS, envName } from '../../src/config/server-config.js';

const template = readFileSync('systemd/certstream-server.default', 'utf8');
const commented = new Map<string, string>();
for (const line of template.split('\n')) {
  const m = /^#(CERTSTREAM_[A-Z_]+)=(.*)$/.exec(line);
  if (m?.[1] !== undefined) commented.set(m[1], m[2] ?? '');
}

test('every daemon option has a commented line in the defaults template, and nothing else is listed', () => {
  const expected = OPTIONS.map((o) => envName(o.flag)).sort();
  assert.deepEqual([...commented.keys()].sort(), expected);
  assert.equal(/^CERTSTREAM_/m.test(template), false, 'no variable may be set (uncommented) in the template');
});

test('the template shows each plain default', () => {
  for (const o of OPTIONS) {
    // Computed defaults are explained in prose instead: state dir, user agent (version), regex lists.
    if (/\$|\(|\//.test(o.defaultText) && o.flag !== 'log-list') continue;
    if (o.flag === 'user-agent') continue;
    assert.equal(commented.get(envName(o.flag)), o.defaultText, o.flag);
  }
});

test('the server unit reads the defaults file optionally and keeps config errors from looping', () => {
  const unit = readFileSync('systemd/certstream-server.service', 'utf8');
  assert.match(unit, /^EnvironmentFile=-\/etc\/default\/certstream-server$/m);
  assert.match(unit, /^RestartPreventExitStatus=78$/m);
  assert.match(unit, /^Type=notify$/m);
  const unitSection = unit.slice(unit.search(/^\[Unit\]$/m), unit.search(/^\[Service\]$/m));
  assert.match(unitSection, /^StartLimitIntervalSec=/m, 'start limit belongs in [Unit]');
  assert.match(unitSection, /^StartLimitBurst=/m);
  assert.equal(/^MemoryDenyWriteExecute=yes/m.test(unit), false, 'V8 needs W+X pages');
  const heap = Number(/--max-old-space-size=(\d+)/.exec(unit)?.[1]);
  const high = Number(/^MemoryHigh=(\d+)M$/m.exec(unit)?.[1]);
  const max = /^MemoryMax=(\d+)G$/m.exec(unit)?.[1];
  assert.ok(heap > 0 && heap < high && high < Number(max) * 1024, `heap ${heap} < MemoryHigh ${high} < MemoryMax ${max}G`);
});
