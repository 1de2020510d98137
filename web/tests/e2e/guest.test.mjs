// Browser test of a guest's history charts and task logs against `proxwatch demo`.
// Run from the repository root:  node --test web/tests/e2e/

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { demoSuite, DESKTOP, SHOTS } from './harness.mjs';

const WAIT = { timeout: 15_000 };

const demo = demoSuite();

const openGuest = (vmid) => demo.open(DESKTOP, `/vms/${vmid}`, '[data-testid="page-guest"]', WAIT.timeout);

/** The number of plotted steps of guest-chart-<name> once it has loaded `timeframe`. */
async function chartPoints(page, name, timeframe) {
  const sel = `[data-testid="guest-chart-${name}"][data-timeframe="${timeframe}"][data-state="ready"]`;
  await page.waitForSelector(sel, WAIT);
  return Number(await page.getAttribute(sel, 'data-points'));
}

/** Opens the log of the first task in table `testid` and returns its lines. */
async function openLog(page, testid) {
  await page.click(`[data-testid="${testid}"] [data-testid="task-log-open"]`);
  await page.waitForSelector('[data-testid="task-log"][open] [data-testid="task-log-lines"] li', WAIT);
  return page.$$eval('[data-testid="task-log-lines"] li', (els) => els.map((e) => e.textContent ?? ''));
}

test('guest: RRD charts over the timeframes, then a task log', async () => {
  const { page, errors } = await openGuest(101);
  // The last hour: one point a minute, all with values (101 is running).
  assert.equal(await chartPoints(page, 'cpu', 'hour'), 70);
  for (const name of ['memory', 'net', 'disk']) assert.ok((await chartPoints(page, name, 'hour')) > 0, name);
  await page.waitForSelector('[data-testid="chart-guest-cpu"] canvas', WAIT);

  await page.click('[data-testid="timeframe-week"]');
  assert.equal(await page.getAttribute('[data-testid="timeframe-week"]', 'aria-pressed'), 'true');
  const week = await chartPoints(page, 'cpu', 'week');
  assert.ok(week > 0 && week <= 70, `week has ${week} points`);
  await page.screenshot({ path: `${SHOTS}/guest-desktop.png`, fullPage: true });

  // A task of this guest: its log in a dialog.
  const lines = await openLog(page, 'guest-tasks');
  assert.ok(lines.length > 0);
  assert.match(lines.at(-1), /^TASK (OK|ERROR: .+|WARNINGS: \d+)$/, 'a task log ends with its verdict');
  await page.screenshot({ path: `${SHOTS}/guest-task-log.png` });
  await page.click('[data-testid="task-log-close"]');
  await page.waitForSelector('[data-testid="task-log"]:not([open])', { state: 'attached', ...WAIT });
  assert.deepEqual(errors, [], 'no uncaught page errors');
  await page.close();
});

test('guest: a backup task log with its ERROR lines highlighted', async (t) => {
  const { page, errors } = await openGuest(101);
  await page.waitForSelector('[data-testid="guest-config"]', WAIT);
  // The config file's [PENDING] section (read from /etc/pve, issue 15).
  const pending = await page.$eval('[data-testid="guest-pending"]', (e) => e.textContent);
  assert.match(pending, /Pending changes \(applied at the next start\): memory/);
  await page.waitForSelector('[data-testid="guest-backups"]');
  const lines = await openLog(page, 'guest-backups');
  assert.ok(lines.some((l) => l.startsWith('INFO: ')), 'vzdump log lines');
  const flagged = await page.$$eval('[data-testid="task-log-lines"] li[data-level="error"]', (els) => els.map((e) => e.textContent));
  assert.deepEqual(flagged, lines.filter((l) => /^(TASK )?ERROR/.test(l)), 'exactly the ERROR lines are highlighted');
  await page.screenshot({ path: `${SHOTS}/guest-backup-log.png` });
  assert.deepEqual(errors, [], 'no uncaught page errors');
  await page.close();
});

test("guest: a failed job run shows the guest's own error, not the job's verdict", async () => {
  const { page, errors } = await openGuest(201);
  await page.waitForSelector('[data-testid="guest-backups"] [data-testid="guest-error"]', WAIT);
  const err = await page.textContent('[data-testid="guest-backups"] [data-testid="guest-error"]');
  assert.equal(err?.trim(), 'CT is locked (backup)');
  assert.deepEqual(errors, [], 'no uncaught page errors');
  await page.close();
});

test('guest: live rates are computed from two readings (— before), and the RRD is current', async () => {
  const { page, errors } = await openGuest(101);
  await page.waitForSelector('[data-testid="guest-net-rate"]', WAIT);
  // Never a made-up "0 B/s": "—" until two readings, then the demo's moving counters give a rate.
  await page.waitForFunction(
    () => /↓ [1-9][\d.]* [kKMG]?i?B\/s/.test(document.querySelector('[data-testid="guest-net-rate"]')?.textContent ?? ''),
    null,
    { timeout: 45_000 },
  );
  await chartPoints(page, 'net', 'hour');
  assert.equal(await page.$('[data-testid="guest-history-stale"]'), null, 'the demo RRD ends now, not 20 minutes ago');
  assert.deepEqual(errors, [], 'no uncaught page errors');
  await page.close();
});
