// Browser test of the Overview page against the real binary in demo mode.
// The demo requires a login like any install; its status offers demo / demo.
// Run from the repository root:  node --test web/tests/e2e/
// Needs a built binary (PROXWATCH_BIN, default target/debug/proxwatch) and a
// system Chromium (CHROMIUM, default /usr/bin/chromium); no browser download.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SHOTS, startDemo, launchBrowser, demoLogin, pointsAbove } from './harness.mjs';

let demo;
let base;
let browser;

before(async () => {
  demo = await startDemo();
  base = demo.url;
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  demo?.stop();
});

test('overview at desktop size: live charts stream, 1h range loads history', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(base);
  await demoLogin(page);
  await page.waitForSelector('[data-testid="page-overview"]');
  assert.equal(new URL(page.url()).pathname, '/');
  for (const name of ['cpu', 'memory', 'net', 'disk']) await page.waitForSelector(`[data-testid="chart-${name}"]`);
  await page.waitForSelector('[data-testid="processes"]');

  // The live chart receives new points from /api/live.
  const p0 = Number((await page.getAttribute('[data-testid="chart-cpu"]', 'data-points')) ?? 0);
  const p1 = await pointsAbove(page, 'cpu', p0);
  const p2 = await pointsAbove(page, 'cpu', p1);
  assert.ok(p2 > p0, `live points grew ${p0} -> ${p2}`);
  assert.equal(await page.getAttribute('[data-testid="range-live"]', 'aria-pressed'), 'true');

  // Switch to 1h: the chart redraws from /api/history.
  const history = page.waitForResponse((r) => r.url().includes('/api/history?') && r.url().includes('range=1h'));
  await page.click('[data-testid="range-1h"]');
  const res = await history;
  assert.equal(res.status(), 200, `history answered ${res.status()}`);
  await page.waitForSelector('[data-testid="range-1h"][aria-pressed="true"]');
  assert.equal(await page.getAttribute('[data-testid="range-live"]', 'aria-pressed'), 'false');
  for (const name of ['cpu', 'memory', 'net', 'disk']) {
    await page.waitForSelector(`[data-testid="chart-${name}"][data-range="1h"][data-state="ready"]`, { timeout: 10_000 });
  }

  await page.screenshot({ path: `${SHOTS}/overview-desktop.png`, fullPage: true });
  assert.deepEqual(errors, [], 'no uncaught page errors');
  await page.close();
});

test('overview at phone size has no horizontal overflow', async () => {
  const page = await browser.newPage({ viewport: { width: 375, height: 812 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  await page.goto(base);
  await demoLogin(page);
  await page.waitForSelector('[data-testid="page-overview"]');
  // On a phone the charts wait behind one tap (the strip and the cards come first).
  await page.tap('[data-testid="show-charts"]');
  await pointsAbove(page, 'cpu', 0);
  await page.waitForSelector('[data-testid="processes"] tbody td.name');
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 375, `page is ${width}px wide at a 375px viewport`);
  await page.screenshot({ path: `${SHOTS}/overview-phone.png`, fullPage: true });
  await page.close();
});

test('deep links survive the login; unknown API routes answer JSON (401 without, 404 with a session)', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const res = await page.goto(new URL('/storage', base).href);
  assert.equal(res?.status(), 200);
  await demoLogin(page);
  // Back on the page asked for, inside the shell.
  await page.waitForSelector('nav[aria-label="Main"]');
  await page.waitForSelector('[data-testid="page-storage"]');
  assert.equal(new URL(page.url()).pathname, '/storage');
  const cookie = (await page.context().cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
  await page.close();

  for (const [headers, status] of [[{}, 401], [{ cookie }, 404]]) {
    const api = await fetch(new URL('/api/nope', base), { headers });
    assert.equal(api.status, status);
    assert.match(api.headers.get('content-type') ?? '', /application\/json/);
    const body = await api.json();
    assert.equal(typeof body.error, 'string');
    assert.equal(typeof body.message, 'string');
  }
});

test('the terminal page says plainly that the demo has no terminal', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(new URL('/terminal', base).href);
  await demoLogin(page);
  await page.waitForSelector('[data-testid="terminal-disabled"]');
  assert.match(await page.textContent('[data-testid="terminal-disabled"]') ?? '', /--terminal/);
  await page.close();
});
