// Browser test of the Hardware page against `proxwatch demo`: hwmon temperature tiles and fans (the
// unpopulated header left out), the IPMI table with the fan below its non-critical threshold, the SEL,
// memory modules and the highlighted GPU/HBA, on a desktop and at 375 px.
// Run from the repository root:  node --test web/tests/e2e/hardware.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { demoSuite, DESKTOP, PHONE, SHOTS } from './harness.mjs';

const WAIT = { timeout: 20_000 };

const demo = demoSuite();

const openHardware = (opts) => demo.open(opts, '/hardware', '[data-testid="page-hardware"]', WAIT.timeout);

test('hardware: sensors, fans, IPMI, SEL, memory modules and PCI highlights', async () => {
  const { page, errors } = await openHardware(DESKTOP);
  await page.waitForSelector('[data-testid="temp-tile"]', WAIT);
  const temps = await page.$$eval('[data-testid="temp-tile"] .t-label', (els) => els.map((e) => e.textContent?.trim()));
  assert.ok(temps.includes('Package id 0'), `CPU package tile: ${temps}`);
  assert.ok(temps.includes('Composite'), 'NVMe tile');
  assert.ok(!temps.includes('SYSTIN') && !temps.includes('AUXTIN0'), 'floating Super-I/O inputs are not shown');
  const pkgLimits = await page.$$eval('[data-testid="temp-tile"]', (els) =>
    els.find((e) => e.textContent?.includes('Package id 0'))?.querySelectorAll('.mark').length,
  );
  assert.equal(pkgLimits, 2, 'max and crit marks on the package tile');

  const fans = await page.$$eval('[data-testid="fan-tile"] .t-label', (els) => els.map((e) => e.textContent?.trim()));
  assert.deepEqual(fans, ['fan1', 'fan2'], 'the unpopulated fan3 header is left out');
  assert.match(await page.textContent('[data-testid="temps"]'), /bogus readings? ignored/);

  await page.waitForSelector('[data-testid="ipmi-table"]', WAIT);
  const fan2 = await page.$eval('[data-testid="ipmi-row"][data-status="nc"]', (e) => e.textContent);
  assert.match(fan2, /System Fan2/);
  assert.match(fan2, /non-critical/);
  assert.ok((await page.$$('[data-testid="sel"] li')).length >= 4, 'SEL entries listed');

  await page.waitForSelector('[data-testid="memory-row"]', WAIT);
  assert.equal((await page.$$('[data-testid="memory-row"]')).length, 4);
  assert.match(await page.textContent('[data-testid="memory"]'), /12 empty slots/);
  assert.match(await page.textContent('[data-testid="memory-table"]'), /36ASF4G72PZ-3G2E7/);
  const kinds = await page.$$eval('[data-testid="pci-row"]', (els) => els.map((e) => e.getAttribute('data-kind')));
  assert.ok(kinds.includes('gpu') && kinds.includes('storage'), `GPU and HBA highlighted: ${kinds}`);
  assert.match(await page.textContent('[data-testid="pci-table"]'), /Tesla T4/);
  assert.match(await page.textContent('[data-testid="pci-table"]'), /SAS3008/);
  await page.waitForSelector('[data-testid="temp-history"] [data-state]', WAIT);
  await page.screenshot({ path: `${SHOTS}/hardware-desktop.png`, fullPage: true });
  assert.deepEqual(errors, []);
  await page.close();
});

test('hardware: fits a 375 px phone', async () => {
  const { page, errors } = await openHardware(PHONE);
  await page.waitForSelector('[data-testid="temp-tile"]', WAIT);
  await page.waitForSelector('[data-testid="memory-row"]', WAIT);
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 375, `the page is ${width}px wide at a 375px viewport`);
  await page.screenshot({ path: `${SHOTS}/hardware-phone.png`, fullPage: true });
  assert.deepEqual(errors, []);
  await page.close();
});
