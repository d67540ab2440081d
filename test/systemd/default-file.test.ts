// The units must read systemd/certstream-server.default the way systemd.md says. (That the template
// lists every option with its default is checked by test/config/options-docs.test.ts: it is generated.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

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
