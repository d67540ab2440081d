// The NATS scale-out deployment files in systemd/ (README "Scale-out over NATS JetStream"): the role
// environment snippets are valid configurations of the daemon's real parser, the health probe is
// skipped on the roles it cannot judge, and the units only order themselves after a local nats-server.
// (systemd-analyze verify of the drop-in and the units: verify-units.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { parseServerArgs } from '../../src/config/parse-args.js';
import { OPTIONS, envName } from '../../src/config/options.js';

/**
 * The VAR=value lines of an EnvironmentFile (the snippets use no quotes, continuations or `export`),
 * and the commented-out `#CERTSTREAM_X=value` lines that show defaults.
 */
function readEnvFile(path: string): { set: Map<string, string>; shown: Map<string, string> } {
  const set = new Map<string, string>();
  const shown = new Map<string, string>();
  for (const [i, line] of readFileSync(path, 'utf8').split('\n').entries()) {
    const example = /^#(CERTSTREAM_[A-Z0-9_]+)=(.*)$/.exec(line);
    if (example) shown.set(example[1]!, example[2]!);
    if (line.trim() === '' || line.startsWith('#')) continue;
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    assert.ok(m, `${path}:${i + 1}: not VAR=value: ${line}`);
    assert.doesNotMatch(m[2]!, /["'\\]/, `${path}:${i + 1}: keep values unquoted (systemd and sh read quotes differently)`);
    assert.equal(set.has(m[1]!), false, `${path}:${i + 1}: ${m[1]} set twice`);
    set.set(m[1]!, m[2]!);
  }
  return { set, shown };
}

const known = new Set(OPTIONS.map((o) => envName(o.flag)));

for (const role of ['ingest', 'edge']) {
  test(`systemd/nats/${role}.env names only real options and the daemon's parser accepts it as role ${role}`, () => {
    const { set: vars, shown } = readEnvFile(`systemd/nats/${role}.env`);
    // Appended to /etc/default/certstream-server, a set line overrides the admin's earlier one: so only
    // the role and the NATS URLs are set, everything else is shown commented with its default.
    assert.deepEqual([...vars.keys()].sort(), ['CERTSTREAM_NATS', 'CERTSTREAM_ROLE']);
    for (const name of [...vars.keys(), ...shown.keys()]) assert.ok(known.has(name), `${name} is not an option of src/config/options.ts`);
    for (const o of OPTIONS.filter((x) => shown.has(envName(x.flag)))) assert.equal(shown.get(envName(o.flag)), o.default, `#${envName(o.flag)} shows its default`);
    assert.equal(vars.get('CERTSTREAM_ROLE'), role);
    assert.match(vars.get('CERTSTREAM_NATS') ?? '', /^nats:\/\//);
    assert.equal(parseServerArgs([], Object.fromEntries([...vars, ...shown])).kind, 'config', 'valid with the commented lines uncommented too');
    const parsed = parseServerArgs([], Object.fromEntries(vars));
    assert.equal(parsed.kind, 'config');
    if (parsed.kind !== 'config') return;
    const config = parsed.config as unknown as Record<string, unknown>;
    const defaults = parseServerArgs([], {});
    assert.equal(defaults.kind, 'config');
    if (defaults.kind !== 'config') return;
    const base = defaults.config as unknown as Record<string, unknown>;
    // Each value that is not the default really changed the config (nothing silently ignored).
    for (const o of OPTIONS.filter((x) => vars.has(envName(x.flag)) && vars.get(envName(x.flag)) !== x.default)) {
      assert.notDeepEqual(config[o.key], base[o.key], `${envName(o.flag)} has no effect`);
    }
  });
}

test('the health probe is skipped (ExecCondition exit 1) on ingest and edge nodes, run on role all', () => {
  const unit = readFileSync('systemd/certstream-server-health.service', 'utf8');
  const line = /^ExecCondition=\/bin\/sh -c '(.*)'$/m.exec(unit);
  assert.ok(line, 'a role condition in certstream-server-health.service');
  // What systemd hands to sh: `$$` in a unit file is one literal `$`.
  const script = line[1]!.replaceAll('$$', '$');
  const run = (role: string | undefined): number | null => {
    const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
    if (role !== undefined) env.CERTSTREAM_ROLE = role;
    return spawnSync('/bin/sh', ['-c', script], { env }).status;
  };
  // 1..254 skips the unit without failing it; 0 runs the probe.
  assert.deepEqual(
    [run(undefined), run(''), run('all'), run('ingest'), run('edge')],
    [0, 0, 0, 1, 1],
    'unset/empty/all probe; ingest/edge skip',
  );
  // The role condition comes first: the probe of a stopped daemon stays skipped either way, but a
  // sandboxed `test` is cheaper than the root systemctl call.
  assert.ok(unit.indexOf("ExecCondition=/bin/sh") < unit.indexOf('ExecCondition=+/usr/bin/systemctl'));
});

test('the server unit only orders itself after a local nats-server; the drop-in pulls one in', () => {
  const unit = readFileSync('systemd/certstream-server.service', 'utf8');
  const unitSection = unit.slice(unit.search(/^\[Unit\]$/m), unit.search(/^\[Service\]$/m));
  assert.match(unitSection, /^After=.*\bnats-server\.service\b/m, 'stops before a local nats-server at shutdown');
  assert.doesNotMatch(unit, /^(Wants|Requires|BindsTo|Requisite)=.*nats-server/m, 'a remote NATS cluster is the normal case');
  const dropin = readFileSync('systemd/nats/local-nats.conf', 'utf8');
  assert.match(dropin, /^\[Unit\]\nWants=nats-server\.service$/m);
  assert.doesNotMatch(dropin, /^(Requires|BindsTo)=/m, 'the daemon retries NATS itself: a NATS restart must not restart it');
  // Only drop-ins, environment snippets and the NATS example here: nothing install.sh would enable.
  assert.deepEqual(readdirSync('systemd/nats').filter((f) => !/\.(conf|env)$/.test(f) && f !== 'nats-server.conf.example'), []);
});
