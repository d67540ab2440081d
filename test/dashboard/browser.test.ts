/**
 * The dashboard in a real headless Chromium against the real server on the fake CT log: no console
 * errors, nothing requested outside its own origin, every log with the right figures, figures that
 * move without a reload while the logs grow, recent names and a filter that narrows them, a failing
 * log marked and listed first; readable on a phone, dark when the system is.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { WebSocket } from 'ws';
import { polledAll, pollUntil, startFake, startReal, tempDir, testConfig, whenFake } from '../server/server-harness.js';
import { launchChromium, requireChromium } from './chromium.js';
import { waitUntil } from '../support/wait-until.js';

const WAIT = { timeout: 30_000 };

// The callbacks passed to page.evaluate / waitForFunction run in the page. These are the few DOM
// shapes they use: the project's tsconfig has no DOM lib, which would loosen the checks of Node code.
interface El {
  textContent: string | null;
  className: string;
  dataset: Record<string, string | undefined>;
  querySelector(selector: string): El | null;
}
declare const document: { querySelectorAll(selector: string): ArrayLike<El>; documentElement: { scrollWidth: number }; body: El };
declare const window: { innerWidth: number };
declare function getComputedStyle(e: El): { backgroundColor: string };

interface Row {
  url: string;
  cls: string;
  tree: string;
  next: string;
  lag: string;
  verified: string;
  rate: string;
  mark: string;
}

function rows(page: Page): Promise<Row[]> {
  return page.$$eval('#logs tbody tr', (trs) =>
    trs.map((tr) => ({
      url: (tr as unknown as El).dataset.url ?? '',
      cls: tr.className,
      tree: tr.querySelector('.tree')?.textContent ?? '',
      next: tr.querySelector('.next')?.textContent ?? '',
      lag: tr.querySelector('.lag')?.textContent ?? '',
      verified: tr.querySelector('td.verified')?.textContent ?? '',
      rate: tr.querySelector('.rate')?.textContent ?? '',
      mark: tr.querySelector('.mark')?.textContent ?? '',
    })),
  );
}

const int = (s: string) => Number(s.replace(/,/g, ''));

test('the dashboard in Chromium: live figures, recent certificates, filter, a failing log', { timeout: 180_000 }, async (t) => {
  if (!requireChromium(t)) return;
  const fake = await startFake(t, { rfc6962Logs: 2, staticLogs: 1, initialSize: 300 });
  const server = await startReal(testConfig(fake, await tempDir(t), { durablePingIntervalMs: 100 }));
  t.after(() => server.close());
  await whenFake(fake, () => polledAll(server));

  const context = await launchChromium((fn) => t.after(fn));
  const origin = new URL(server.url).origin;
  const requested: string[] = [];
  context.on('request', (r) => requested.push(r.url()));
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));

  const response = await page.goto(`${server.url}/`, { waitUntil: 'load' });
  assert.equal(response?.status(), 200);
  await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42)); // gone if the page reloads

  // Every log appears with the figures the server has (the logs are not growing yet).
  await page.waitForFunction(() => document.querySelectorAll('#logs tbody tr').length === 3, undefined, WAIT);
  const health = server.health();
  const shown = await rows(page);
  assert.deepEqual(shown.map((r) => r.url).sort(), fake.logs.map((l) => l.url).sort());
  for (const r of shown) {
    const log = health.logs.find((l) => l.url === r.url)!;
    assert.equal(int(r.tree), log.tree_size, r.url);
    assert.equal(int(r.next), log.next_index, r.url);
    assert.equal(int(r.lag), log.lag, r.url);
    assert.equal(r.cls, 'ok', r.url);
  }
  assert.equal(await page.textContent('#status'), health.status);
  assert.equal(await page.textContent('#t-logs'), '3 / 3');
  // The verification column: each log's state, and its verified size once it has one (an RFC 6962 log
  // started at its head proves the range before it and turns `ok`; the page follows within a refresh).
  const shownVerification = (h: typeof health) => h.logs.map((l) => [l.url, l.verified_size === null ? l.verification : `${l.verification} · ${l.verified_size.toLocaleString('en-US')}`]);
  await waitUntil('the verification column to match /healthz', 30_000, async () => {
    const cells = new Map((await rows(page)).map((r) => [r.url, r.verified]));
    return shownVerification(server.health()).every(([url, text]) => cells.get(url) === text);
  });

  // The replay window and durable subscription cards show the server's figures (they said "not
  // reported" whatever the server had): a durable client's position appears as it is confirmed.
  const durable = new WebSocket(`${server.url.replace('http', 'ws')}/domains-only?id=dashboard-card`);
  t.after(() => durable.terminate());
  await page.waitForFunction(() => document.querySelectorAll('#t-durable')[0]?.textContent === '1', undefined, WAIT);
  assert.match((await page.textContent('#t-replay')) ?? '', /^\d+ s · 0 B$/, 'an empty window (no backfill, the logs still)');

  // The logs grow: figures change without a reload.
  const before = new Map(shown.map((r) => [r.url, int(r.tree)]));
  fake.grow(300);
  await page.waitForFunction(
    (b: [string, number][]) =>
      Array.from(document.querySelectorAll('#logs tbody tr')).every((tr) => {
        const prev = new Map(b).get(tr.dataset.url ?? '') ?? Infinity;
        const now = Number((tr.querySelector('.tree')?.textContent ?? '').replace(/,/g, ''));
        const rate = Number(tr.querySelector('.rate')?.textContent ?? 'NaN');
        return now > prev && rate > 0;
      }),
    [...before],
    WAIT,
  );
  assert.equal(await page.evaluate(() => (window as unknown as { marker?: number }).marker), 42, 'no reload');
  // Each log has its chart of the last ten minutes: a line whose newest point is the rate now (> 0).
  const charts = await page.$$eval('#logs tbody tr td.chart svg', (svgs) =>
    svgs.map((svg) => ({
      points: (svg.querySelector('polyline') as unknown as { getAttribute(n: string): string | null }).getAttribute('points') ?? '',
      title: svg.querySelector('title')?.textContent ?? '',
    })),
  );
  assert.equal(charts.length, 3);
  for (const c of charts) {
    assert.ok(c.points.split(' ').length >= 2, `a line: ${c.points}`);
    assert.match(c.title, /^entries\/s over the last (minute|\d+ min): now ([\d.,]+), peak [\d.,]+$/);
    assert.ok(Number(/now ([\d.,]+)/.exec(c.title)![1].replace(/,/g, '')) > 0, c.title);
  }
  assert.ok(int((await page.textContent('#t-certs')) ?? '0') > 0);
  assert.match((await page.textContent('#sample-note')) ?? '', /at most 10 certificates a second/);

  // Recent certificates appear; the filter narrows them to the matching ones.
  await page.waitForFunction(() => {
    const names = Array.from(document.querySelectorAll('#recent li[data-index] .domains')).map((e) => e.textContent);
    return names.length >= 10 && new Set(names).size >= 3;
  }, undefined, WAIT);
  fake.grow(0); // a still list, so that counts compare
  // The window card follows the window the server holds now (its bytes as the page formats them).
  await pollUntil('the window card to show the window held', async () => {
    const w = server.health().replay_window!;
    const card = (await page.textContent('#t-replay')) ?? '';
    const [value, unit] = card.split(' · ')[1]?.split(' ') ?? [];
    const shown = Number(value) * ({ B: 1, KB: 1024, MB: 1024 ** 2 } as Record<string, number>)[unit];
    return w.next_seq > w.first_seq && w.bytes > 0 && Math.abs(shown - w.bytes) <= w.bytes * 0.05;
  }, 30_000);
  const all = await page.$$eval('#recent li[data-index] .domains', (es) => es.map((e) => e.textContent ?? ''));
  const needle = all.map((d) => d.replace(/^precert/, '').split(',')[0].trim()).find((d) => d.length > 3 && all.some((x) => !x.includes(d)))!;
  assert.ok(needle, 'a name that not every row has');
  await page.fill('#filter', needle.toUpperCase()); // case does not matter
  await page.waitForFunction((n: string) => {
    const items = Array.from(document.querySelectorAll('#recent li[data-index]'));
    return items.length > 0 && items.every((li) => (li.textContent ?? '').toLowerCase().includes(n));
  }, needle.toLowerCase(), WAIT);
  // A sample, not the stream: far fewer rows than certificates were streamed meanwhile.
  const streamed = server.health().certificates;
  assert.ok(all.length <= 100 && all.length * 5 < streamed, `${all.length} rows rendered of ${streamed} certificates streamed`);
  const narrowed = await page.$$eval('#recent li[data-index]', (es) => es.length);
  assert.ok(narrowed < all.length, `${narrowed} of ${all.length} rows after filtering`);
  assert.match((await page.textContent('#shown')) ?? '', /match/);
  await page.fill('#filter', 'no-such-name.invalid');
  await page.waitForSelector('#recent li.empty', WAIT);
  await page.fill('#filter', '');
  await page.waitForFunction((n: number) => document.querySelectorAll('#recent li[data-index]').length >= n, all.length, WAIT);

  // A failing log is marked and listed first.
  const bad = fake.logs[1].url;
  fake.injectFault(bad, { status: 503, times: 1_000_000 });
  await page.waitForSelector(`#logs tbody tr.failing[data-url="${bad}"]`, WAIT);
  const after = await rows(page);
  assert.equal(after[0].url, bad);
  assert.equal(after[0].mark, 'failing');
  assert.match((await page.textContent(`#logs tbody tr.failing .err`)) ?? '', /503/);
  assert.match((await page.textContent('#logs-note')) ?? '', /1 in trouble/);

  assert.deepEqual(problems, []);
  const foreign = requested.filter((u) => new URL(u).origin !== origin && !u.startsWith('data:'));
  assert.deepEqual(foreign, [], 'requests outside the page origin');
  assert.ok(requested.some((u) => u.includes('/status.json')));
});

test('the dashboard on a phone, in dark mode, and when the server is gone', { timeout: 120_000 }, async (t) => {
  if (!requireChromium(t)) return;
  const fake = await startFake(t, { rfc6962Logs: 1, staticLogs: 1, initialSize: 100 });
  const server = await startReal(testConfig(fake, await tempDir(t)));
  t.after(() => server.close());
  await whenFake(fake, () => polledAll(server));
  const context = await launchChromium((fn) => t.after(fn), { viewport: { width: 390, height: 844 } });
  const page = await context.newPage();
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.goto(`${server.url}/`);
  await page.waitForFunction(() => document.querySelectorAll('#logs tbody tr').length === 2, undefined, WAIT);
  // Nothing wider than the phone: the page does not scroll sideways (the table scrolls in its box).
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `page is ${overflow}px wider than the screen`);
  const dark = await page.evaluate(() => {
    const [r, g, b] = getComputedStyle(document.body).backgroundColor.match(/\d+/g)!.map(Number);
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  });
  assert.ok(dark < 60, `dark background, luminance ${dark}`);
  await page.emulateMedia({ colorScheme: 'light' });
  const light = await page.evaluate(() => {
    const [r, g, b] = getComputedStyle(document.body).backgroundColor.match(/\d+/g)!.map(Number);
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  });
  assert.ok(light > 200, `light background, luminance ${light}`);

  // The server goes away: the page says so instead of showing old figures as live.
  assert.equal(await page.textContent('#conn'), '');
  await server.close();
  await page.waitForFunction(() => /no answer from the server/.test(document.body.textContent ?? ''), undefined, WAIT);
});
