// Browser test of the Logs page against `proxwatch demo` (its recorded journal, shifted to "now", and
// its Proxmox task list). Run from the repository root:  node --test web/tests/e2e/logs.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { demoSuite, DESKTOP, PHONE, SHOTS } from './harness.mjs';

const WAIT = { timeout: 15_000 };

const demo = demoSuite();

const openLoggedIn = (opts, path) => demo.open(opts, path, '[data-testid="page-logs"]', WAIT.timeout);

const priorities = (page) =>
  page.$$eval('[data-testid="journal-entry"]', (els) => els.map((e) => Number(e.getAttribute('data-priority'))));

test('journal: entries newest first, a priority filter, older pages, a multi-line entry', async () => {
  const { page, errors } = await openLoggedIn(DESKTOP, '/logs');
  await page.waitForSelector('[data-testid="journal-entry"]', WAIT);
  const first = await priorities(page);
  assert.equal(first.length, 200, 'one page of 200');
  const stamps = await page.$$eval('[data-testid="journal-entry"] time', (els) => els.map((e) => Date.parse(e.getAttribute('datetime'))));
  assert.ok(stamps.every((t, i) => i === 0 || stamps[i - 1] >= t), 'newest first');
  assert.ok(Date.now() - stamps[0] < 3_600_000, 'the demo journal looks recent');

  // Older entries by cursor.
  await page.click('[data-testid="load-older"]');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="journal-entry"]').length > 200, null, WAIT);

  // Priority: errors and worse. The URL keeps the filter.
  await page.selectOption('[data-testid="filter-priority"]', '3');
  await page.waitForFunction(
    () => {
      const ps = [...document.querySelectorAll('[data-testid="journal-entry"]')].map((e) => Number(e.getAttribute('data-priority')));
      return ps.length > 0 && ps.length < 100 && ps.every((p) => p <= 3);
    },
    null,
    WAIT,
  );
  assert.match(page.url(), /priority=3/);
  const text = await page.textContent('[data-testid="journal-entries"]');
  assert.match(text ?? '', /No space left on device/);
  assert.match(text ?? '', /Killed process/);

  // A multi-line entry opens up.
  await page.click('[data-testid="journal-entry"] [data-testid="expand"]');
  await page.waitForSelector('[data-testid="expanded"]', WAIT);
  await page.screenshot({ path: `${SHOTS}/logs-desktop.png`, fullPage: true });

  // A reload keeps the filter (it is in the URL).
  await page.reload();
  await page.waitForSelector('[data-testid="journal-entry"]', WAIT);
  assert.equal(await page.inputValue('[data-testid="filter-priority"]'), '3');
  assert.ok((await priorities(page)).every((p) => p <= 3));
  assert.deepEqual(errors, [], 'no uncaught page errors');
  await page.close();
});

test('tasks: the failed vzdump, its log, and the phone layout', async () => {
  const { page, errors } = await openLoggedIn(PHONE, '/logs');
  await page.click('[data-testid="tab-tasks"]');
  await page.waitForSelector('[data-testid="task-row"]', WAIT);
  const failed = page.locator('[data-testid="task-row"][data-outcome="failed"][data-type="vzdump"]');
  assert.ok((await failed.count()) > 0, 'a failed vzdump in the demo');
  assert.match(page.url(), /tab=tasks/);
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 375, `tasks are ${width}px wide at a 375px viewport`);
  await page.screenshot({ path: `${SHOTS}/logs-tasks-phone.png`, fullPage: true });

  await failed.first().locator('[data-testid="task-open"]').click();
  await page.waitForSelector('[data-testid="task-log-lines"]', WAIT);
  assert.match((await page.textContent('[data-testid="task-log-lines"]')) ?? '', /ERROR/);
  await page.click('[data-testid="task-log-close"]');

  // Status filter.
  await page.selectOption('[data-testid="task-status"]', 'failed');
  await page.waitForFunction(
    () => [...document.querySelectorAll('[data-testid="task-row"]')].every((r) => r.getAttribute('data-outcome') === 'failed'),
    null,
    WAIT,
  );

  // The cluster log (/etc/pve/.clusterlog): the failed backup's end, on a phone without sideways scrolling.
  await page.click('[data-testid="tab-cluster"]');
  await page.waitForSelector('[data-testid="cluster-log"] li', WAIT);
  assert.match(page.url(), /tab=cluster/);
  const clog = (await page.textContent('[data-testid="cluster-log"]')) ?? '';
  assert.match(clog, /end task UPID:pve-demo:[0-9A-F:]+vzdump:104:root@pam: job errors/);
  const cwidth = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(cwidth <= 375, `the cluster log is ${cwidth}px wide at a 375px viewport`);

  // The journal on a phone: no sideways scrolling.
  await page.click('[data-testid="tab-journal"]');
  await page.waitForSelector('[data-testid="journal-entry"]', WAIT);
  const jwidth = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(jwidth <= 375, `the journal is ${jwidth}px wide at a 375px viewport`);
  await page.screenshot({ path: `${SHOTS}/logs-journal-phone.png` });
  assert.deepEqual(errors, [], 'no uncaught page errors');
  await page.close();
});
