/**
 * Debian's chromium, driven by playwright-core (no browser download), for the dashboard's browser tests
 * and benchmark. A fresh profile directory every time; the flags keep a headless Chromium from
 * reaching for the network on its own (component updates, sync, QUIC probes) on a closed machine.
 * Under CI a missing chromium fails (`.ci/run` installs it); elsewhere the tests say SKIP loudly.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/** Whether chromium is there; without it, fails under CI and skips loudly otherwise. */
export function requireChromium(t: { skip(message: string): void }): boolean {
  if (existsSync(CHROMIUM_PATH)) return true;
  const message = `${CHROMIUM_PATH} not found (install Debian's "chromium" package): dashboard not tested in a browser`;
  if (process.env.CI) assert.fail(`${message}, and CI is set`);
  process.stderr.write(`SKIP: ${message}\n`);
  t.skip(message);
  return false;
}

/** Launches chromium with a fresh profile; closes it and removes the profile when `after` runs. */
export async function launchChromium(after: (fn: () => Promise<void>) => void, options: { viewport?: { width: number; height: number } } = {}): Promise<BrowserContext> {
  const profile = await mkdtemp(join(tmpdir(), 'certstream-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: options.viewport ?? { width: 1400, height: 1000 },
    timeout: 60_000,
  });
  after(async () => {
    await context.close();
    await rm(profile, { recursive: true, force: true });
  });
  return context;
}
