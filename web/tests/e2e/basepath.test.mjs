// Browser test of the app behind a reverse proxy's sub-path: `proxwatch demo` with
// server.base_path = /proxwatch/ serves everything under that prefix and sets
// index.html's <base href>; the SPA must keep every URL it asks for under it
// (assets, API, the live stream, the terminal websocket, the service worker).
// Run from the repository root:  node --test web/tests/e2e/

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PLAIN_SHELL, SHOTS, demoLogin, launchBrowser, pointsAbove, startDemo } from './harness.mjs';

const PREFIX = '/proxwatch/';

let server;
let browser;
let root;

before(async () => {
  server = await startDemo(['--terminal'], { ...PLAIN_SHELL, PROXWATCH_SERVER_BASE_PATH: PREFIX });
  root = new URL(PREFIX, server.url).href;
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  server?.stop();
});

test('under /proxwatch/: login, live chart, deep links and reloads; nothing asked for outside the prefix', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const requests = [];
  const sockets = [];
  const errors = [];
  // Context-wide, so the service worker's own fetches are seen too.
  context.on('request', (r) => requests.push(r.url()));
  const page = await context.newPage();
  page.on('websocket', (ws) => sockets.push(ws.url()));
  page.on('pageerror', (e) => errors.push(e.message));

  // The bare origin redirects into the prefix.
  const redirect = await fetch(server.url, { redirect: 'manual' });
  assert.equal(redirect.status, 308);
  assert.equal(redirect.headers.get('location'), PREFIX);

  const res = await page.goto(root);
  assert.equal(res?.status(), 200);
  assert.equal(new URL(page.url()).pathname, PREFIX);
  assert.equal(await page.evaluate(() => document.baseURI), root);

  await demoLogin(page);
  await page.waitForSelector('[data-testid="page-overview"]');
  assert.equal(new URL(page.url()).pathname, PREFIX);
  const p0 = await pointsAbove(page, 'cpu', -1);
  const p1 = await pointsAbove(page, 'cpu', p0);
  assert.ok(p1 > p0, `live points grew ${p0} -> ${p1}`);
  await page.screenshot({ path: `${SHOTS}/basepath-overview.png` });

  // The navigation's links carry the prefix; following one is a client-side route change.
  const hrefs = await page.$$eval('nav[aria-label="Main"] a', (as) => as.map((a) => a.getAttribute('href')));
  assert.ok(hrefs.length > 5, `nav links: ${hrefs}`);
  for (const h of hrefs) assert.ok(h?.startsWith(PREFIX), `nav link ${h} is under ${PREFIX}`);
  await page.click('nav[aria-label="Main"] a:has-text("Security")');
  await page.waitForSelector('[data-testid="page-security"]');
  assert.equal(new URL(page.url()).pathname, `${PREFIX}security`);
  await page.waitForSelector('[data-testid="session-row"]');

  // Reload there: the deep link is served and routed under the prefix.
  await page.reload();
  await page.waitForSelector('[data-testid="page-security"]');
  assert.equal(new URL(page.url()).pathname, `${PREFIX}security`);
  await page.waitForSelector('[data-testid="session-row"]');

  // Two levels deep: relative assets (and the lazily loaded page chunk) still resolve against the <base>.
  await page.goto(new URL('vms/101', root).href);
  await page.waitForSelector('[data-testid="page-guest"] [data-testid="guest-config"]');
  await page.click('[data-testid="page-guest"] nav a');
  await page.waitForSelector('[data-testid="guest-row-101"]');
  assert.equal(new URL(page.url()).pathname, `${PREFIX}vms`);
  // An unknown path two levels deep is the not-found page, with a way back.
  await page.goto(new URL('vms/nope', root).href);
  await page.waitForSelector('[data-testid="page-notfound"]');
  assert.match((await page.textContent('[data-testid="page-notfound"]')) ?? '', /\/vms\/nope/);
  await page.click('[data-testid="page-notfound"] a');
  await page.waitForSelector('[data-testid="page-overview"]');
  assert.equal(new URL(page.url()).pathname, PREFIX);

  // The terminal's websocket lives under the prefix too.
  await page.click('nav[aria-label="Main"] a:has-text("Terminal")');
  await page.waitForSelector('[data-testid="term-tab"][data-state="open"]', { timeout: 15_000 });
  assert.equal(sockets.length, 1, `websockets: ${sockets}`);
  assert.equal(new URL(sockets[0]).pathname, `${PREFIX}api/terminal/ws`);

  // The service worker and the manifest are scoped to the prefix.
  const sw = await page.evaluate(async () => {
    const reg = await Promise.race([
      navigator.serviceWorker.ready,
      new Promise((_, reject) => setTimeout(() => reject(new Error('no active service worker after 15 s')), 15_000)),
    ]);
    return reg.scope;
  });
  assert.equal(sw, root);
  assert.equal(await page.$eval('link[rel="manifest"]', (l) => l.href), `${root}manifest.webmanifest`);
  const manifest = await (await fetch(`${root}manifest.webmanifest`)).json();
  assert.equal(new URL(manifest.start_url, `${root}manifest.webmanifest`).href, root);
  assert.equal(new URL(manifest.scope, `${root}manifest.webmanifest`).href, root);

  const outside = requests.filter((u) => /^https?:/.test(u) && !new URL(u).pathname.startsWith(PREFIX));
  assert.deepEqual(outside, [], `requests outside ${PREFIX}`);
  assert.ok(requests.some((u) => u.startsWith(`${root}api/live`)), 'the live stream was opened under the prefix');
  assert.ok(requests.some((u) => u.startsWith(`${root}assets/`)), 'assets were loaded under the prefix');
  assert.deepEqual(errors, [], 'no uncaught page errors');
  await context.close();
});
