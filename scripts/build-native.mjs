#!/usr/bin/env node
/**
 * npm's install step (and `npm run build:native`): compiles native/memory-release.cc into
 * build/Release/memory_release.node with node-gyp (python3, make and a C++ compiler). The daemon runs without
 * it, its idle memory about 15 MB higher (src/server/memory-release.ts says so in its log), so a machine
 * without a compiler gets a warning here, not a failed `npm ci`.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// npm passes the node-gyp it bundles to lifecycle scripts; run by hand, node-gyp must be on the PATH.
const gyp = process.env.npm_config_node_gyp;
const [command, args] = gyp ? [process.execPath, [gyp, 'rebuild']] : ['node-gyp', ['rebuild']];
const result = spawnSync(command, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
if (result.status === 0) {
  process.stdout.write('certstream-server: built build/Release/memory_release.node\n');
} else {
  // The compiler's own error lines say most; gyp's closing lines (its versions, "not ok") say little.
  const lines = `${result.stdout ?? ''}\n${result.stderr ?? ''}`.split('\n').filter((l) => l.trim() !== '');
  const errors = lines.filter((l) => /error/i.test(l) && !l.startsWith('gyp ERR!')).slice(0, 3);
  const why = result.error ? result.error.message : (errors.length > 0 ? errors : lines.slice(-5)).join('\n');
  process.stderr.write(
    'certstream-server: WARNING: the memory_release addon was not built (node-gyp needs python3, make and a C++ compiler).\n' +
    'The server runs without it; its memory at rest is about 15 MB higher. `npm run build:native` tries again.\n' +
    `${why}\n`,
  );
}
