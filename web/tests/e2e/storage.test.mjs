// Browser test of the Storage and VMs & CTs pages (and their detail pages) against `proxwatch demo`.
// Run from the repository root:  node --test web/tests/e2e/

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { demoSuite, DESKTOP, PHONE, SHOTS } from './harness.mjs';

const WAIT = { timeout: 15_000 };

const demo = demoSuite();

const openLoggedIn = demo.open;

async function noOverflow(page, what) {
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 375, `${what} is ${width}px wide at a 375px viewport`);
}

test('storage: pools and disk cards, then one disk\'s SMART detail', async () => {
  const { page, errors } = await openLoggedIn(DESKTOP, '/storage');
  await page.waitForSelector('[data-testid="page-storage"]', WAIT);
  await page.waitForSelector('[data-testid^="pool-"]', WAIT);
  await page.waitForSelector('[data-testid^="disk-card-"]', WAIT);
  const pools = await page.$$eval('[data-testid^="pool-"]', (els) => els.map((e) => e.getAttribute('data-testid')));
  assert.ok(pools.length > 0, 'at least one ZFS pool');
  // Every pool shows its vdev tree.
  for (const p of pools) assert.ok(await page.$(`[data-testid="${p}"] table`), `${p} has a vdev tree`);
  const ids = await page.$$eval('[data-testid^="disk-card-"]', (els) =>
    els.map((e) => (e.getAttribute('data-testid') ?? '').slice('disk-card-'.length)),
  );
  await page.screenshot({ path: `${SHOTS}/storage-desktop.png`, fullPage: true });

  // The demo's sde carries the reallocated sectors; any disk with data will do elsewhere.
  const id = ids.includes('sde') ? 'sde' : ids[0];
  await page.click(`[data-testid="disk-card-${id}"]`);
  await page.waitForSelector('[data-testid="page-disk"]', WAIT);
  assert.equal(new URL(page.url()).pathname, `/storage/disks/${id}`);
  // Right after start-up the poller may not have read this disk yet (one disk per step): the page asks again.
  await page.waitForSelector('[data-testid="smart-attributes"] tbody tr, [data-testid="smart-nvme"]', { timeout: 45_000 });
  await page.waitForSelector('[data-testid="selftests"]', WAIT);
  await page.screenshot({ path: `${SHOTS}/disk-desktop.png`, fullPage: true });

  // A reload of the deep link lands on the same page.
  await page.reload();
  await page.waitForSelector('[data-testid="page-disk"]', WAIT);
  assert.deepEqual(errors, [], 'no uncaught page errors');
  await page.close();
});

test('VMs & CTs: the table, sorting and filtering, then a guest\'s detail', async () => {
  const { page, errors } = await openLoggedIn(DESKTOP, '/');
  await page.waitForSelector('[data-testid="page-overview"]', WAIT);
  await page.click('nav[aria-label="Main"] a[href$="/vms"]');
  await page.waitForSelector('[data-testid="page-vms"]', WAIT);
  await page.waitForSelector('[data-testid^="guest-row-"]', WAIT);
  const rowIds = () => page.$$eval('[data-testid^="guest-row-"]', (els) => els.map((e) => Number(e.getAttribute('data-testid')?.slice(10))));
  const all = await rowIds();
  assert.ok(all.length > 0, 'at least one guest');
  assert.deepEqual(all, [...all].sort((a, b) => a - b), 'sorted by ID at first');
  await page.screenshot({ path: `${SHOTS}/vms-desktop.png`, fullPage: true });

  // Sorting by ID again reverses the order.
  await page.click('th:first-child button');
  assert.deepEqual(await rowIds(), [...all].sort((a, b) => b - a), 'ID descending');
  await page.click('th:first-child button');

  // Tags wear the colours the admin chose in PVE (datacenter.cfg tag-style: prod red on white).
  const prodTag = page.locator('[data-testid="guest-row-100"] .tag', { hasText: 'prod' });
  assert.equal(await prodTag.evaluate((e) => getComputedStyle(e).backgroundColor), 'rgb(198, 40, 40)');

  // The text filter matches the vmid.
  const pick = all[0];
  await page.fill('[data-testid="vm-filter"]', 'no-guest-is-called-this');
  await page.waitForSelector('text=No guest matches the filter.', WAIT);
  await page.fill('[data-testid="vm-filter"]', String(pick));
  await page.waitForSelector(`[data-testid="guest-row-${pick}"]`, WAIT);
  for (const id of await rowIds()) assert.ok(all.includes(id));
  await page.fill('[data-testid="vm-filter"]', '');

  await page.click(`[data-testid="guest-row-${pick}"] td.name a`);
  await page.waitForSelector('[data-testid="page-guest"]', WAIT);
  assert.equal(new URL(page.url()).pathname, `/vms/${pick}`);
  await page.waitForSelector('[data-testid="guest-config"] table tr', WAIT);
  assert.deepEqual(errors, [], 'no uncaught page errors');
  await page.close();
});

test('phone size: VMs as cards, storage and a guest without horizontal overflow', async () => {
  const { page, errors } = await openLoggedIn(PHONE, '/vms');
  await page.waitForSelector('[data-testid^="guest-row-"]', WAIT);
  await noOverflow(page, 'the VMs page');
  await page.screenshot({ path: `${SHOTS}/vms-phone.png`, fullPage: true });

  const first = await page.getAttribute('[data-testid^="guest-row-"]', 'data-testid');
  await page.click(`[data-testid="${first}"] td.name a`);
  await page.waitForSelector('[data-testid="guest-config"] table tr', WAIT);
  await noOverflow(page, 'a guest page');

  await page.goto(new URL('/storage', demo.server.url).href);
  await page.waitForSelector('[data-testid^="disk-card-"]', WAIT);
  await noOverflow(page, 'the storage page');
  assert.deepEqual(errors, [], 'no uncaught page errors');
  await page.close();
});

test('disks never look healthy when they are not: the FAULTED pool member and the worn SSD', async () => {
  const { page, errors } = await openLoggedIn(DESKTOP, '/storage');
  // sde is tank's FAULTED member (named by its by-id path in zpool status): critical, with the pool state.
  await page.waitForSelector('[data-testid="disk-card-sde"]', WAIT);
  await page.waitForSelector('[data-testid="disk-card-sde"][data-health="crit"]', WAIT);
  const badge = await page.textContent('[data-testid="disk-pool-sde"]');
  assert.match(badge ?? '', /ZFS tank · FAULTED/);
  assert.match((await page.textContent('[data-testid="disk-reason-sde"]')) ?? '', /FAULTED/);
  // The vdev names the disk in its bay: /dev/sde and its serial, linking to the disk.
  const member = await page.textContent('[data-testid="pool-tank"] [data-testid="vdev-disk-sde"]');
  assert.match(member ?? '', /\/dev\/sde · ZL2PR0T9/);
  await page.click('[data-testid="pool-tank"] [data-testid="vdev-disk-sde"]');
  await page.waitForSelector('[data-testid="page-disk"]', WAIT);
  assert.equal(await page.getAttribute('[data-testid="disk-verdict"]', 'data-state'), 'critical');
  assert.match((await page.textContent('[data-testid="disk-member-tank"]')) ?? '', /FAULTED/);
  assert.match((await page.textContent('[data-testid="disk-lead"]')) ?? '', /FAULTED/);

  // sdb is at 90 % of its rated endurance: critical once the health cycle has run, the page leads with
  // it, the wear attribute is highlighted, and the forecast line is there (a forecast or "not enough
  // history yet", never nothing).
  await page.goto(new URL('/storage/disks/sdb', demo.server.url).href);
  await page.waitForSelector('[data-testid="disk-verdict"][data-state="critical"]', { timeout: 60_000 });
  assert.match((await page.textContent('[data-testid="disk-lead"]')) ?? '', /endurance/);
  await page.waitForSelector('[data-testid="smart-attributes"] tr[data-flagged="true"]', WAIT);
  await page.waitForSelector('[data-testid="disk-forecast"]', WAIT);
  assert.deepEqual(errors, [], 'no uncaught page errors');
  await page.close();
});
