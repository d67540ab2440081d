// Memory at rest (issue 20): the daemon loads the parts of undici it runs (src/ct/undici-core.ts), not
// undici's index, which loads fetch, WebSocket, caches and mocks with it (4–5 MB of heap at rest).
// A real process imports the daemon's whole static module graph (src/server.ts) and reports the undici
// files it loaded; the CT requests themselves are exercised by http-client.test.ts against real servers.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';

const SERVER = pathToFileURL(join(import.meta.dirname, '../../src/server.ts')).href;

/** The undici files (paths under undici/) a fresh process has loaded once it imported `moduleUrl`. */
async function undiciFilesLoadedBy(moduleUrl: string): Promise<string[]> {
  const script = `
    import { createRequire } from 'node:module';
    await import(${JSON.stringify(moduleUrl)});
    const cache = createRequire(import.meta.url).cache;
    process.stdout.write(JSON.stringify(Object.keys(cache)));`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script]);
  return (JSON.parse(stdout) as string[]).flatMap((path) => {
    const at = path.lastIndexOf('/undici/');
    return at === -1 ? [] : [path.slice(at + '/undici/'.length)];
  });
}

describe('undici-core: the daemon loads undici without its index', { timeout: 60_000 }, () => {
  it("importing the server loads undici's Agent and request API, not its index, fetch or WebSocket", async () => {
    const loaded = await undiciFilesLoadedBy(SERVER);
    assert.ok(loaded.includes('lib/dispatcher/agent.js'), `the Agent is loaded: ${loaded.join(', ')}`);
    assert.ok(loaded.includes('lib/api/api-request.js'), 'the request API is loaded');
    assert.deepEqual(loaded.filter((path) => path === 'index.js' || path.startsWith('lib/web/')), []);
  });
});
