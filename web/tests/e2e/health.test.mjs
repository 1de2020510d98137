// Browser test of the Health page and the header badge against `proxwatch demo`.
// Run from the repository root (after `cargo build`):  node --test web/tests/e2e/health.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { demoSuite, DESKTOP, PHONE, SHOTS } from './harness.mjs';

const WAIT = { timeout: 15_000 };
const CATEGORIES = ['cpu', 'memory', 'storage', 'disks', 'guests', 'network', 'services', 'logs', 'updates', 'security'];

const demo = demoSuite();

const openLoggedIn = demo.open;

/** Waits for the first health cycle (the demo runs it ~10 s after start). */
async function evaluated(page) {
  await page.waitForFunction(
    () => {
      const s = document.querySelector('[data-testid="health-status"]')?.textContent?.trim();
      return s && s !== 'pending';
    },
    null,
    { timeout: 45_000 },
  );
}

test('health: ten categories, expand one, dismiss a finding, see it under suppressions, undismiss', async () => {
  const { page, errors } = await openLoggedIn(DESKTOP, '/health');
  await page.waitForSelector('[data-testid="page-health"]', WAIT);
  await page.waitForSelector('[data-testid="cat-cpu"]', WAIT);
  const cats = await page.$$eval('[data-testid^="cat-"]', (els) => els.map((e) => e.getAttribute('data-testid')));
  assert.deepEqual(cats, CATEGORIES.map((c) => `cat-${c}`), 'the ten categories in their fixed order');
  await evaluated(page);

  // The demo's disks: sde has reallocated sectors, tank is degraded.
  const disks = '[data-testid="cat-disks"]';
  assert.notEqual(await page.getAttribute(disks, 'data-status'), 'ok', 'the demo has disk problems');
  await page.click(`${disks} .cat-head`);
  await page.waitForSelector(`${disks} [data-testid^="check-"]`, WAIT);
  const finding = page.locator(`${disks} [data-testid^="finding-"][data-state="active"]`).first();
  await finding.waitFor(WAIT);
  const testid = await finding.getAttribute('data-testid');
  const key = (testid ?? '').slice('finding-'.length);
  assert.ok(key.includes(':'), `a finding key: ${key}`);
  await page.screenshot({ path: `${SHOTS}/health-desktop.png`, fullPage: true });

  // Dismiss it for 24 h through the menu.
  await finding.locator('button', { hasText: 'Dismiss…' }).click();
  await finding.locator('[role="menuitem"]', { hasText: '24 h' }).click();
  const sup = page.locator(`[data-testid="suppressed-${key}"]`);
  await sup.waitFor(WAIT);
  assert.match((await sup.textContent()) ?? '', /until/);
  await page.waitForSelector(`[data-testid="finding-${key}"][data-state="dismissed"]`, WAIT);

  // The timeline shows the dismissal with the demo user.
  await page.waitForFunction(
    () => [...document.querySelectorAll('[data-testid="timeline"] li')].some((li) => li.getAttribute('data-kind') === 'dismissed' && li.textContent?.includes('by demo')),
    null,
    WAIT,
  );

  // Undismiss from the suppressions list.
  await sup.locator('button', { hasText: 'Undismiss' }).click();
  await sup.waitFor({ state: 'detached', timeout: 15_000 });
  await page.waitForSelector(`[data-testid="finding-${key}"][data-state="active"]`, WAIT);

  // The badge links here and counts active problems.
  const badge = page.locator('.side-health [data-testid="health-badge"]');
  assert.notEqual(await badge.getAttribute('data-status'), 'ok');
  assert.match((await badge.textContent()) ?? '', /\d+/);
  assert.deepEqual(errors, []);
  await page.close();
});

test('health: thresholds editor shows defaults and names the range on a bad value', async () => {
  const { page, errors } = await openLoggedIn(DESKTOP, '/health');
  await page.waitForSelector('[data-testid="thresholds"]', WAIT);
  await page.click('[data-testid="thresholds"] .sec-head');
  const row = page.locator('[data-testid^="threshold-"]').first();
  await row.waitFor(WAIT);
  assert.match((await row.textContent()) ?? '', /default/);
  const id = (await row.getAttribute('data-testid'))?.slice('threshold-'.length) ?? '';
  await row.locator('input').fill('100000');
  await page.click('text=Save thresholds');
  const err = page.locator('[data-testid="threshold-error"]');
  await err.waitFor(WAIT);
  const msg = (await err.textContent()) ?? '';
  assert.ok(msg.includes(id) && / to /.test(msg), msg);
  assert.deepEqual(errors, []);
  await page.close();
});

test('health: phone layout fits 375 px', async () => {
  const { page, errors } = await openLoggedIn(PHONE, '/health');
  await page.waitForSelector('[data-testid="cat-disks"]', WAIT);
  await evaluated(page);
  await page.click('[data-testid="cat-disks"] .cat-head');
  await page.waitForSelector('[data-testid="cat-disks"] [data-testid^="check-"]', WAIT);
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 375, `the Health page is ${width}px wide at a 375px viewport`);
  // The compact badge sits in the top bar on phones.
  assert.ok(await page.locator('.topbar [data-testid="health-badge"]').isVisible());
  await page.screenshot({ path: `${SHOTS}/health-phone.png`, fullPage: true });
  assert.deepEqual(errors, []);
  await page.close();
});
