// Runs scripts/verify-units.sh (systemd-analyze verify in a --root tree, security --offline <= 2.5,
// timer/service pairing) over systemd/ (the units, and the NATS drop-in applied to the server unit),
// and over broken copies to prove the checker really fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SCRIPT = 'scripts/verify-units.sh';

function verify(dir?: string, env: Record<string, string> = {}): { code: number | null; out: string } {
  const r = spawnSync('bash', [SCRIPT, ...(dir === undefined ? [] : [dir])], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

const probe = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
const missing = probe.error !== undefined || probe.status !== 0;
if (missing) {
  const msg = '\n*** SKIP verify-units: systemd-analyze is not installed (apt-get install systemd); the units are NOT verified ***\n';
  process.stderr.write(msg);
  if (process.env.CI !== undefined) throw new Error('CI is set but systemd-analyze is missing: .ci/run should have installed it');
}

test('every unit in systemd/ verifies with no output, the server exposure is <= 2.5, timers have services', { skip: missing }, () => {
  const r = verify(undefined, { SECURITY_UNITS: 'certstream-server.service certstream-server-health.service certaudit.service certstream-watch.service' });
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /verify-units: OK \(5 units, 2 drop-ins\)/);
  const m = /certstream-server\.service Overall exposure level for certstream-server\.service: ([\d.]+)/.exec(r.out);
  assert.ok(m, r.out);
  assert.ok(Number(m[1]) <= 2.5, `exposure ${m[1]}`);
});

test('the checker fails on an unknown key, a timer without its service, and a weak sandbox', { skip: missing }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'units-'));
  try {
    cpSync('systemd', dir, { recursive: true });
    appendFileSync(join(dir, 'certaudit.service'), 'Bogus=1\n');
    // The NATS drop-in is verified as part of certstream-server.service (systemd/nats/local-nats.conf).
    appendFileSync(join(dir, 'nats/local-nats.conf'), 'AfterTypo=nats-server.service\n');
    writeFileSync(join(dir, 'orphan.timer'), '[Timer]\nOnActiveSec=1min\n');
    const server = join(dir, 'certstream-server.service');
    const weak = readFileSync(server, 'utf8')
      .split('\n')
      .filter((l) => !/^(Protect|Private|SystemCall|Restrict|CapabilityBoundingSet|DynamicUser|NoNewPrivileges)/.test(l))
      .join('\n');
    writeFileSync(server, weak);
    const r = verify(dir);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /Unknown key 'Bogus'/);
    assert.match(r.out, /local-nats\.conf:\d+: Unknown key 'AfterTypo'/);
    assert.match(r.out, /orphan\.timer activates orphan\.service, which is not in/);
    assert.match(r.out, /certstream-server\.service exposure is above 2\.5/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
