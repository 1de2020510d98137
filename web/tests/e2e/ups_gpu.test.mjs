// Browser test of the UPS and GPU tiles on the Hardware page of `proxwatch demo`: the CyberPower UPS
// on line at 100 % (status as badges, charge, runtime, load) and the Tesla T4 with its process linked
// to CT 201, on a desktop and at 375 px without horizontal scrolling.
// Run from the repository root after `cargo build`:  node --test web/tests/e2e/ups_gpu.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { demoLogin, demoSuite, DESKTOP, PHONE, SHOTS, startDemo } from './harness.mjs';

const WAIT = { timeout: 20_000 };

const demo = demoSuite();

async function open(opts) {
  const { page, errors } = await demo.open(opts, '/hardware', '[data-testid="ups-cp1500"]', WAIT.timeout);
  await page.waitForSelector('[data-testid="gpu-0"]', WAIT);
  return { page, errors };
}

for (const [name, opts] of [
  ['desktop', DESKTOP],
  ['phone', PHONE],
]) {
  test(`ups and gpu tiles (${name})`, async () => {
    const { page, errors } = await open(opts);
    const ups = page.locator('[data-testid="ups-cp1500"]');
    assert.equal(await ups.getAttribute('data-state'), 'ok');
    assert.deepEqual(await ups.locator('[data-testid="ups-flags"] .badge').allTextContents(), ['on line']);
    assert.equal((await ups.locator('[data-testid="ups-charge"]').textContent())?.trim(), '100 %');
    assert.equal((await ups.locator('[data-testid="ups-runtime"]').textContent())?.trim(), '26 min');
    assert.match(await ups.textContent(), /CP1500PFCLCD/);
    assert.match(await ups.textContent(), /25 %/, 'load');

    const gpu = page.locator('[data-testid="gpu-0"]');
    assert.match(await gpu.textContent(), /Tesla T4/);
    assert.match(await gpu.textContent(), /23 %/, 'utilisation');
    assert.match((await gpu.locator('[data-testid="gpu-temp"]').textContent()) ?? '', /47 °C/);
    const link = gpu.locator('[data-testid="gpu-processes"] a');
    assert.equal((await link.textContent())?.trim(), 'CT 201');
    assert.match((await link.getAttribute('href')) ?? '', /\/vms\/201$/);
    assert.match(await gpu.locator('[data-testid="gpu-ecc"]').textContent(), /0 corrected, 0 uncorrected/);

    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `no horizontal scrolling (overflow ${overflow}px)`);
    await page.locator('[data-testid="ups"]').screenshot({ path: `${SHOTS}/ups-${name}.png` });
    await gpu.screenshot({ path: `${SHOTS}/gpu-${name}.png` });
    assert.deepEqual(errors, []);
    await page.close();
  });
}

test('no UPS configured: a clear "not present" state', async () => {
  const off = await startDemo([], { PROXWATCH_NUT_SERVERS: '[]' });
  try {
    const page = await demo.browser.newPage(DESKTOP);
    await page.goto(new URL('/hardware', off.url).href);
    await demoLogin(page);
    const none = page.locator('[data-testid="ups-none"]');
    await none.waitFor(WAIT);
    assert.match(await none.textContent(), /No UPS on this host/);
    assert.match(await none.textContent(), /nut\.servers is empty/);
    await page.close();
  } finally {
    off.stop();
  }
});
