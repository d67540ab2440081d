// One table of options (src/config/options.ts) feeds the parser, --help, the /etc/default template and
// the README block: these tests fail as soon as any of them disagrees with the table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseServerArgs } from '../../src/config/parse-args.js';
import { MAX_TIMER_MS, OPTIONS, describeRange, envName, shownDefault } from '../../src/config/options.js';
import { README_BEGIN, README_END, renderDefaultsFile, renderReadmeBlock } from '../../src/config/options-docs.js';
import { validateConfig } from '../../src/config/server-config.js';

test('the /etc/default template is the one generated from the table (npm run gen:options)', () => {
  assert.equal(readFileSync('systemd/certstream-server.default', 'utf8'), renderDefaultsFile(), 'stale template: run npm run gen:options');
});

test('the template lists every option once, commented, with its default, and sets nothing', () => {
  const template = readFileSync('systemd/certstream-server.default', 'utf8');
  const commented = new Map<string, string>();
  for (const m of template.matchAll(/^#(CERTSTREAM_[A-Z_]+)=(.*)$/gm)) {
    assert.equal(commented.has(m[1]!), false, `${m[1]} listed twice`);
    commented.set(m[1]!, m[2]!);
  }
  assert.deepEqual([...commented.keys()].sort(), OPTIONS.map((o) => envName(o.flag)).sort());
  assert.equal(/^CERTSTREAM_/m.test(template), false, 'no variable may be set (uncommented) in the template');
  for (const o of OPTIONS) {
    if (o.example !== undefined || o.shownDefault !== undefined) continue; // computed: explained in prose
    assert.equal(commented.get(envName(o.flag)), o.default, o.flag);
  }
});

test('the README block is the one generated from the table', () => {
  const readme = readFileSync('README.md', 'utf8');
  const block = readme.slice(readme.indexOf(README_BEGIN), readme.indexOf(README_END) + README_END.length);
  assert.equal(block, renderReadmeBlock(), 'stale README options block: run npm run gen:options');
});

test('--help shows every option with its variable, default and accepted values', () => {
  const r = parseServerArgs(['--help'], {});
  assert.equal(r.kind, 'exit');
  if (r.kind !== 'exit') return;
  const lines = r.text.split('\n');
  for (const o of OPTIONS) {
    const line = lines.find((l) => l.trimStart().startsWith(`--${o.flag} `) || l.trimStart().startsWith(`--${o.flag},`));
    assert.ok(line, `--${o.flag} in --help`);
    assert.ok(line.includes(`[env ${envName(o.flag)}]`), `${o.flag}: env in ${line}`);
    assert.ok(line.includes(`(default: ${shownDefault(o)})`), `${o.flag}: default in ${line}`);
    const range = describeRange(o);
    if (range) assert.ok(line.includes(range), `${o.flag}: range in ${line}`);
  }
});

test('the behaviour uses the table defaults: each option unset gives its default converted', () => {
  const r = validateConfig({});
  assert.ok(r.ok);
  const config = r.config as unknown as Record<string, unknown>;
  assert.deepEqual(Object.keys(config).sort(), OPTIONS.map((o) => o.key).sort(), 'one table entry per config field');
  for (const o of OPTIONS) {
    const one = validateConfig({ [o.flag]: o.kind === 'regex-list' ? [] : o.default });
    assert.ok(one.ok, o.flag);
    assert.deepEqual((one.config as unknown as Record<string, unknown>)[o.key], config[o.key], o.flag);
  }
});

test('every duration bound stays below what a Node timer can hold', () => {
  for (const o of OPTIONS.filter((x) => x.kind === 'seconds')) {
    assert.ok(o.max !== undefined && o.min !== undefined, o.flag);
    assert.ok(o.max * 1000 < MAX_TIMER_MS, `${o.flag}: ${o.max} s`);
    const over = validateConfig({ [o.flag]: String(o.max + 1) });
    assert.ok(!over.ok, `${o.flag} above its maximum`);
    if (!over.ok) assert.deepEqual(over.problems, [`--${o.flag}: "${o.max + 1}" is not ${describeRange(o)}`]);
  }
});
