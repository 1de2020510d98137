// Browser test of the Network page against `proxwatch demo`: the bonded bridge with its down slave,
// the guests on the bridge linking to their pages, and the gateway latency chart.
// Run from the repository root (after `cargo build` and `cd web && npm run build`):
//   node --test web/tests/e2e/network.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { demoSuite, DESKTOP, PHONE, pointsAbove, SHOTS } from './harness.mjs';

const WAIT = { timeout: 20_000 };

const demo = demoSuite();

const openLoggedIn = demo.open;

test('network: bond with a down slave, guests on the bridge, gateway latency chart', async () => {
  const { page, errors } = await openLoggedIn(DESKTOP, '/network');
  await page.waitForSelector('[data-testid="page-network"]', WAIT);

  // Topology: vmbr0 → bond0 → eno1 (up, active) and eno2 (MII down).
  await page.waitForSelector('[data-testid="bridge-vmbr0"] [data-testid="uplink-bond0"]', WAIT);
  assert.equal(await page.getAttribute('[data-testid="uplink-bond0"] [data-testid="slave-eno2"]', 'data-mii'), 'down');
  assert.equal(await page.getAttribute('[data-testid="uplink-bond0"] [data-testid="slave-eno1"]', 'data-mii'), 'up');
  assert.match((await page.textContent('[data-testid="net-summary"]')) ?? '', /bond0 degraded/);
  assert.ok(await page.$('[data-testid="group-bond"] [data-testid="bond-degraded"]'), 'the bond row says degraded');

  // A VM's tap is named after its guest and links to the guest's page.
  const tap = '[data-testid="bridge-vmbr0"] [data-testid="guest-port-tap100i0"] a';
  assert.match((await page.textContent(tap)) ?? '', /100 router/);
  assert.match((await page.getAttribute(tap, 'href')) ?? '', /\/vms\/100$/);
  assert.ok(await page.$('[data-testid="bridge-vmbr0"] [data-testid="guest-port-veth201i0"]'), 'CT veths too');
  assert.ok(await page.$('[data-testid="iface-vmbr0.20"]'), 'the VLAN is listed');

  // The gateway: a latency figure and a history chart with points (the demo starts with a day of probes).
  await page.waitForFunction(
    () => /ms/.test(document.querySelector('[data-testid="gw-latency"]')?.textContent ?? ''),
    null,
    WAIT,
  );
  // The demo's gateway loses 0.5 % of echoes (scenarios/demo/icmp.toml), so about one probe in 70 of
  // three echoes reports `loss`: both are a reachable gateway.
  assert.match((await page.getAttribute('[data-testid="gateway"]', 'data-state')) ?? '', /^(ok|loss)$/);
  const pts = await pointsAbove(page, 'gw-latency', 10);
  assert.ok(pts > 10, `latency chart has ${pts} points`);
  // Switching the range reloads the chart for that range.
  await page.click('[aria-label="Gateway history range"] button:has-text("1h")');
  await page.waitForSelector('[data-testid="chart-gw-latency"][data-range="1h"][data-state="ready"]', WAIT);
  await pointsAbove(page, 'gw-latency', 5);
  await page.screenshot({ path: `${SHOTS}/network-desktop.png`, fullPage: true });

  // Following a guest link lands on the guest page.
  await page.click(tap);
  await page.waitForSelector('[data-testid="page-guest"]', WAIT);
  assert.equal(new URL(page.url()).pathname, '/vms/100');
  assert.deepEqual(errors, [], 'no uncaught page errors');
  await page.close();
});

test('network: phone layout has no horizontal overflow', async () => {
  const { page, errors } = await openLoggedIn(PHONE, '/network');
  await page.waitForSelector('[data-testid="uplink-bond0"]', WAIT);
  await page.waitForSelector('[data-testid="group-physical"] [data-testid="iface-eno2"]', WAIT);
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 375, `the network page is ${width}px wide at a 375px viewport`);
  await page.screenshot({ path: `${SHOTS}/network-phone.png`, fullPage: true });
  assert.deepEqual(errors, []);
  await page.close();
});
