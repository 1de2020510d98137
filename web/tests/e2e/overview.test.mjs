// Browser test of the Overview page against the real binary in demo mode.
// The demo requires a login like any install; its status offers demo / demo.
// Run from the repository root:  node --test web/tests/e2e/
// Needs a built binary (PROXWATCH_BIN, default target/debug/proxwatch) and a
// system Chromium (CHROMIUM, default /usr/bin/chromium); no browser download.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const BIN = process.env.PROXWATCH_BIN || 'target/debug/proxwatch';
const SHOTS = 'target/screenshots';
const READY = /proxwatch demo listening on (http:\/\/127\.0\.0\.1:\d+\/)/;
const START_TIMEOUT_MS = 60_000;

let child;
let base;
let browser;

/** Spawn `proxwatch demo --port 0` and resolve with its URL from stdout. */
function startServer() {
  return new Promise((resolve, reject) => {
    child = spawn(BIN, ['demo', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    const timer = setTimeout(() => {
      reject(new Error(`${BIN} did not print "proxwatch demo listening on ..." within ${START_TIMEOUT_MS / 1000} s; stderr:\n${stderr}`));
    }, START_TIMEOUT_MS);
    child.stderr.on('data', (d) => {
      stderr = (stderr + d).slice(-4000);
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`could not start ${BIN}: ${e.message}`));
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${BIN} exited early (code ${code}, signal ${signal}); stderr:\n${stderr}`));
    });
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      const m = READY.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
  });
}

before(async () => {
  base = await startServer();
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  mkdirSync(SHOTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  if (child && child.exitCode === null) {
    child.removeAllListeners('exit');
    child.kill('SIGTERM');
  }
});

/** Log in through the login page with the demo account the status offers. */
async function demoLogin(page) {
  await page.waitForSelector('[data-testid="page-login"]');
  const hint = await page.textContent('[data-testid="demo-login"]');
  assert.match(hint ?? '', /Demo login: demo \/ demo/);
  await page.fill('[data-testid="login-username"]', 'demo');
  await page.fill('[data-testid="login-password"]', 'demo');
  await page.click('[data-testid="login-submit"]');
}

/** Wait until chart-<name>'s data-points exceeds `than`; returns the new value. */
async function pointsAbove(page, name, than) {
  const sel = `[data-testid="chart-${name}"]`;
  await page.waitForFunction(
    ([s, n]) => Number(document.querySelector(s)?.getAttribute('data-points') ?? -1) > n,
    [sel, than],
    { timeout: 20_000 },
  );
  return Number(await page.getAttribute(sel, 'data-points'));
}

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
