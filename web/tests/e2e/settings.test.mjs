// Browser test of Settings → System and About, and the Overview's self-monitoring footer, against
// `proxwatch demo` (issue 16): the effective configuration with its sources, a bad value refused
// with the field named, a good one stored and shown as "not running yet" (the demo cannot restart
// itself, and says so), a reset, About's version, and the page at 375 px.
// Run from the repository root (after `cargo build`):  node --test web/tests/e2e/settings.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { demoSuite, DESKTOP, PHONE, SHOTS } from './harness.mjs';

const WAIT = { timeout: 20_000 };
const demo = demoSuite();

test('settings: System shows sources, refuses a bad value naming the field, stores a good one, resets it', async () => {
  const { page, errors } = await demo.open(DESKTOP, '/settings?tab=system', '[data-testid="settings-editable"]', WAIT.timeout);
  const row = '[data-testid="setting-health.interval_s"]';
  assert.match(await page.textContent(row), /30–86400 s · now 300 from default/);

  // Out of range: the server's 400 names the field and its range; nothing is stored.
  await page.fill(`${row} input`, '5');
  await page.click(`${row} button:has-text("Save")`);
  await page.waitForSelector('[data-testid="settings-error"]', WAIT);
  assert.match(await page.textContent('[data-testid="settings-error"]'), /health\.interval_s: must be a whole number from 30 to 86400/);
  assert.equal(await page.$('[data-testid="settings-restart-needed"]'), null);

  // In range: stored, shown as the next start's value, and the demo says it cannot restart itself.
  await page.fill(`${row} input`, '600');
  await page.click(`${row} button:has-text("Save")`);
  await page.waitForSelector('[data-testid="settings-restart-needed"]', WAIT);
  const banner = await page.textContent('[data-testid="settings-restart-needed"]');
  assert.match(banner, /health\.interval_s/);
  assert.match(banner, /cannot restart itself/);
  assert.equal(await page.$('[data-testid="settings-restart"]'), null, 'no restart button in the demo');
  assert.match(await page.textContent(row), /next start: 600/);
  const api = await page.evaluate(async () => (await fetch('/api/settings')).json());
  assert.equal(api.entries.find((e) => e.key === 'health.interval_s').stored, 600);

  // Everything else: the demo's own choices are listed with their source (the data directory).
  assert.match(await page.textContent('[data-testid="settings-effective"]'), /server\.data_dir/);

  // Reset: the stored value goes, nothing is pending.
  await page.click(`${row} button:has-text("Reset")`);
  await page.waitForSelector('[data-testid="settings-restart-needed"]', { state: 'detached', ...WAIT });
  await page.screenshot({ path: `${SHOTS}/settings-system.png`, fullPage: true });
  assert.deepEqual(errors, []);
});

test('settings: About shows the running version; the Overview footer shows what proxwatch costs', async () => {
  const { page, errors } = await demo.open(DESKTOP, '/settings?tab=about', '[data-testid="about-version"]', WAIT.timeout);
  const about = await page.evaluate(async () => (await fetch('/api/about')).json());
  assert.equal((await page.textContent('[data-testid="about-version"]')).trim(), about.version);
  assert.match(await page.textContent('[data-testid="settings-about"]'), /AGPL-3\.0-or-later/);

  await page.goto(new URL('/', page.url()).href);
  await page.waitForSelector('[data-testid="self-footer"]', WAIT);
  assert.match(await page.textContent('[data-testid="self-rss"]'), /RSS \d/);
  assert.match(await page.textContent('[data-testid="self-errors"]'), /\d+ errors, \d+ warnings logged/);
  assert.deepEqual(errors, []);
});

test('settings: System fits a 375 px phone', async () => {
  const { page, errors } = await demo.open(PHONE, '/settings?tab=system', '[data-testid="settings-editable"]', WAIT.timeout);
  const w = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(w <= 375, `the page is ${w}px wide at a 375px viewport`);
  await page.screenshot({ path: `${SHOTS}/settings-system-phone.png`, fullPage: true });
  assert.deepEqual(errors, []);
});
