// "Every screen tells the truth" against `proxwatch demo`: the per-interface traffic chart spans its
// window and says why when it has nothing to draw; one 24-hour time format with absolute tooltips;
// page titles; health timeline badges and notices that name things; the Settings page; the demo's
// note and terminal warning; the PWA manifest and theme colour; and pages never visited opening
// (or saying the host is unreachable) after the server has gone away.
// Run from the repository root (after `cargo build`):  node --test web/tests/e2e/truth.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { demoSuite, demoLogin, startDemo, DESKTOP, SHOTS, openFirstDismiss } from './harness.mjs';

const WAIT = { timeout: 20_000 };
// An en-US browser: a page left to toLocaleTimeString() would say "6:05:56 PM".
const US = { ...DESKTOP, locale: 'en-US', timezoneId: 'UTC' };
const AMPM = /\d\s?(AM|PM)\b/;
const FULL = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/;

const demo = demoSuite();

test('network: the interface traffic chart spans its 10 minutes, or says why it is empty', async () => {
  const { page, errors } = await demo.open(DESKTOP, '/network', '[data-testid="chart-iface-traffic"]');
  const chart = '[data-testid="chart-iface-traffic"]';
  // The x axis is the live window, whatever the data holds (one point used to stretch it over years).
  await page.waitForFunction((s) => Number(document.querySelector(s)?.getAttribute('data-span')) > 0, chart, WAIT);
  const span = Number(await page.getAttribute(chart, 'data-span'));
  assert.ok(Math.abs(span - 600) <= 2, `the traffic chart spans ${span} s, not the 600 s of "last 10 min"`);
  // Either points, or a sentence saying why there are none: never a bare axis.
  const drawn = Number(await page.getAttribute(chart, 'data-points'));
  const empty = await page.getAttribute(chart, 'data-empty');
  assert.ok(drawn > 0 || (empty ?? '').length > 10, `points ${drawn}, empty "${empty}"`);

  // eno2 has no carrier: nothing flows, and the chart says so in words.
  await page.selectOption('[data-testid="traffic"] select', 'eno2');
  await page.waitForFunction(
    (s) => /no traffic recorded for eno2|no samples for eno2/i.test(document.querySelector(s)?.getAttribute('data-empty') ?? ''),
    chart,
    WAIT,
  );
  assert.ok(await page.isVisible(`${chart} [data-testid="chart-empty"]`), 'the reason is shown');
  assert.match(await page.getAttribute(`${chart} .plot`, 'class') ?? '', /hidden/, 'no empty axis is drawn');
  assert.deepEqual(errors, []);
  await page.close();
});

test('times: 24-hour clock, no AM/PM, relative times carry the absolute time as a title', async () => {
  const { page, errors } = await demo.open(US, '/', '[data-testid="processes"] .when time');
  const stamp = page.locator('[data-testid="processes"] .when time');
  assert.match((await stamp.textContent()) ?? '', /^\d\d:\d\d:\d\d$/);
  assert.match((await stamp.getAttribute('title')) ?? '', FULL);
  assert.doesNotMatch(await page.innerText('main'), AMPM, 'the Overview shows no AM/PM');

  await page.click('nav[aria-label="Main"] a[href$="/security"]');
  await page.waitForSelector('[data-testid="session-row"]', WAIT);
  assert.doesNotMatch(await page.innerText('main'), AMPM, 'the Security page shows no AM/PM');
  const last = page.locator('[data-testid="session-row"] td[data-label="Last active"] time').first();
  assert.match((await last.getAttribute('title')) ?? '', FULL, '"last active" has the absolute time as a title');

  await page.click('nav[aria-label="Main"] a[href$="/health"]');
  await page.waitForSelector('[data-testid="timeline"] li', { timeout: 45_000 });
  assert.doesNotMatch(await page.innerText('main'), AMPM, 'the Health page shows no AM/PM');
  for (const t of await page.$$eval('[data-testid="timeline"] li .t', (els) => els.map((e) => e.getAttribute('title')))) {
    assert.match(t ?? '', FULL);
  }
  assert.deepEqual(errors, []);
  await page.close();
});

test('titles, health badges and notices name things; Settings points to the thresholds', async () => {
  const { page, errors } = await demo.open(DESKTOP, '/vms/101', '[data-testid="page-guest"]');
  await page.waitForFunction(() => /^VM 101 web · /.test(document.title), null, WAIT);
  for (const [path, title] of [['/storage/disks/sde', /^Disk sde · /], ['/network', /^Network · /], ['/settings', /^Settings · /]]) {
    await page.evaluate((p) => {
      history.pushState(null, '', p);
      dispatchEvent(new PopStateEvent('popstate'));
    }, path);
    await page.waitForFunction((re) => new RegExp(re).test(document.title), title.source, WAIT);
  }
  // Settings: the thresholds are not "future work"; they are on the Health page, linked.
  const settings = page.locator('[data-testid="settings-thresholds"]');
  assert.match((await settings.textContent()) ?? '', /editable now/i);
  assert.match((await settings.locator('a').getAttribute('href')) ?? '', /\/health$/);
  assert.doesNotMatch(await page.innerText('main'), /Thresholds,/);

  // Health: dismiss a finding; the notice names it by its reason, the timeline badge says what changed.
  await settings.locator('a').click();
  const finding = await openFirstDismiss(page, WAIT);
  const key = ((await finding.getAttribute('data-testid')) ?? '').slice('finding-'.length);
  await finding.locator('[role="menuitem"]', { hasText: '24 h' }).click();
  const notice = page.locator('[data-testid="health-notice"]');
  await notice.waitFor(WAIT);
  const text = (await notice.textContent()) ?? '';
  assert.match(text, /^Dismissed for 24 h: \S/);
  assert.ok(!text.includes(key), `the notice "${text}" names the finding, not its key ${key}`);
  await page.waitForFunction(
    () =>
      [...document.querySelectorAll('[data-testid="timeline"] li[data-kind="dismissed"] [data-testid="event-badge"]')].some((b) =>
        /^dismissed (warning|critical|info)/.test(b.textContent?.trim() ?? ''),
      ),
    null,
    WAIT,
  );
  const badges = await page.$$eval('[data-testid="event-badge"]', (els) => els.map((e) => e.textContent?.trim() ?? ''));
  for (const b of badges) {
    assert.match(b, /^(new|escalated|de-escalated|resolved|dismissed|undismissed|dismissal ended) \S/, `badge "${b}" names change and severity`);
  }
  await page.locator(`[data-testid="suppressed-${key}"] button`, { hasText: 'Undismiss' }).click();
  await page.waitForSelector(`[data-testid="finding-${key}"][data-state="active"]`, WAIT);
  assert.deepEqual(errors, []);
  await page.close();
});

test('demo: the Overview says it in one line; the terminal page warns of a real shell', async () => {
  const { page, errors } = await demo.open(DESKTOP, '/', '[data-testid="demo-note"]');
  const note = (await page.textContent('[data-testid="demo-note"]'))?.trim() ?? '';
  assert.match(note, /^Demo: \S/);
  const box = await page.locator('[data-testid="demo-note"]').boundingBox();
  const host = await page.locator('.panel.host').boundingBox();
  assert.ok(box && host && box.y < host.y, 'the note is at the top, above the host panel');
  await page.click('nav[aria-label="Main"] a[href$="/terminal"]');
  const warn = page.locator('[data-testid="terminal-demo-warning"]');
  await warn.waitFor(WAIT);
  const w = (await warn.textContent()) ?? '';
  assert.match(w, /--terminal/);
  assert.match(w, /real shell on the machine running the demo/);
  assert.deepEqual(errors, []);
  await page.close();
});

test('PWA: manifest id, a maskable icon that exists, theme-color follows the theme', async () => {
  const base = demo.server.url;
  const res = await fetch(new URL('manifest.webmanifest', base));
  assert.equal(res.status, 200);
  const m = await res.json();
  assert.equal(typeof m.id, 'string');
  assert.ok(m.id.length > 0);
  const maskable = m.icons.filter((i) => (i.purpose ?? '').split(/\s+/).includes('maskable'));
  assert.ok(maskable.length > 0, 'a maskable icon');
  for (const i of maskable) {
    const r = await fetch(new URL(i.src, new URL('manifest.webmanifest', base)));
    assert.equal(r.status, 200, `${i.src} exists`);
    assert.equal((r.headers.get('content-type') ?? '').split(';')[0], i.type, `${i.src} is ${i.type}`);
  }

  const { page, errors } = await demo.open(DESKTOP, '/', '[data-testid="page-overview"]');
  const state = () =>
    page.evaluate(() => ({
      theme: document.documentElement.dataset.theme,
      meta: document.querySelector('meta[name="theme-color"]')?.getAttribute('content'),
      bg: getComputedStyle(document.documentElement).getPropertyValue('--bg').trim(),
    }));
  const seen = new Map();
  for (let i = 0; i < 3; i++) {
    await page.click('.theme-btn');
    const s = await state();
    assert.equal(s.meta, s.bg, `theme-color ${s.meta} is the ${s.theme} page background ${s.bg}`);
    seen.set(s.theme, s.meta);
  }
  assert.ok(seen.has('light') && seen.has('dark'), 'the toggle went through light and dark');
  assert.notEqual(seen.get('light'), seen.get('dark'));
  assert.deepEqual(errors, []);
  await page.close();
});

test('offline: a page never visited opens from the service worker cache, or says the host is unreachable', async () => {
  const server = await startDemo();
  const page = await demo.browser.newPage(DESKTOP);
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  try {
    await page.goto(server.url);
    await demoLogin(page);
    await page.waitForSelector('[data-testid="page-overview"]', WAIT);
    // The worker is installed, controls the page, and has cached every chunk of the build.
    await page.waitForFunction(() => navigator.serviceWorker?.controller != null, null, { timeout: 30_000 });
    await page.waitForFunction(
      async () => {
        const keys = await caches.keys();
        if (!keys.length) return false;
        const c = await caches.open(keys[0]);
        const urls = (await c.keys()).map((r) => new URL(r.url).pathname);
        return ['Hardware', 'Logs', 'Network', 'Health'].every((n) => urls.some((u) => u.includes(`/assets/${n}-`) && u.endsWith('.js')));
      },
      null,
      { timeout: 30_000 },
    );
    // (stop() drops the harness's exit listeners, so listen after it.)
    server.stop();
    if (server.child.exitCode === null && server.child.signalCode === null) await new Promise((r) => server.child.once('exit', r));
    for (const [link, ready] of [
      ['/hardware', 'page-hardware'],
      ['/logs', 'page-logs'],
    ]) {
      await page.click(`nav[aria-label="Main"] a[href$="${link}"]`);
      await page.waitForSelector(`[data-testid="${ready}"], [data-testid="page-offline"]`, WAIT);
      const text = await page.innerText('main');
      assert.doesNotMatch(text, /Unable to preload|Failed to fetch dynamically imported/i, `${link}: ${text.slice(0, 200)}`);
      assert.ok(await page.$(`[data-testid="${ready}"]`), `${link} opened from the cache`);
    }
    await page.waitForSelector('[data-testid="conn-banner"]', WAIT);
    await page.screenshot({ path: `${SHOTS}/offline-logs.png` });
    assert.deepEqual(errors, []);
  } finally {
    server.stop();
    await page.close();
  }
});
