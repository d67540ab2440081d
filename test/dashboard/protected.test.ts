/**
 * The dashboard of a server with --tokens --protect-metrics, in a real headless Chromium: without a
 * token the page says how to open it, a wrong token is said to be refused, `#token=` opens it (and
 * leaves the address bar), and the token is kept for the tab's session only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { polledAll, startFake, startReal, tempDir, testConfig, whenFake } from '../server/server-harness.js';
import { launchChromium, requireChromium } from './chromium.js';

const WAIT = { timeout: 30_000 };
const TOKEN = 'dash-s3cret';
declare const sessionStorage: { length: number; getItem(k: string): string | null };
declare const localStorage: { length: number };
declare const location: { href: string };

test('a protected dashboard explains how to give a token and opens with one', { timeout: 180_000 }, async (t) => {
  if (!requireChromium(t)) return;
  const fake = await startFake(t, { rfc6962Logs: 1, staticLogs: 0, initialSize: 20 });
  const dir = await tempDir(t);
  const tokens = join(dir, 'tokens');
  await writeFile(tokens, `viewer ${createHash('sha256').update(TOKEN).digest('hex')}\n`);
  const server = await startReal(testConfig(fake, dir, { tokens, protectMetrics: true }));
  t.after(() => server.close());
  await whenFake(fake, () => polledAll(server));
  const context = await launchChromium((fn) => t.after(fn));
  const page = await context.newPage();

  await page.goto(`${server.url}/`);
  await page.waitForSelector('#token-needed:not([hidden])', WAIT);
  assert.match(await page.textContent('#token-needed') ?? '', /#token=TOKEN/);
  await page.fill('#token-input', 'wrong-token');
  await page.click('#token-use');
  await page.waitForFunction(() => (globalThis as unknown as { document: { getElementById(id: string): { textContent: string } } }).document.getElementById('token-note').textContent === 'that token was refused', undefined, WAIT);

  const opened = await context.newPage();
  await opened.goto(`${server.url}/#token=${TOKEN}`);
  await opened.waitForSelector('#token-needed', { state: 'hidden', ...WAIT });
  await opened.waitForFunction(() => (globalThis as unknown as { document: { getElementById(id: string): { textContent: string } } }).document.getElementById('t-logs').textContent !== '–', undefined, WAIT);
  const kept = await opened.evaluate(() => ({ session: sessionStorage.getItem('certstream-token'), local: localStorage.length, url: location.href }));
  assert.deepEqual(kept, { session: TOKEN, local: 0, url: `${server.url}/` }, 'in sessionStorage only, and gone from the address bar');
});
