// Browser test of Settings → Notifications against `proxwatch demo`: an admin adds a Webhook channel
// (generic preset) pointing at a local HTTP server through the UI's form, sends a test, sees the
// reply inline, the local server gets the JSON message, and the history shows the test as sent.
// Also: the Settings page fits a 375 px phone (the routing matrix scrolls inside its own box).
// Run from the repository root (after `cargo build`):  node --test web/tests/e2e/notifications.test.mjs

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { demoSuite, DESKTOP, PHONE, SHOTS } from './harness.mjs';

const WAIT = { timeout: 20_000 };

const demo = demoSuite();

/** A local webhook receiver: records every request (method, path, headers, body) and answers 200. */
const hook = { server: null, url: '', received: [] };
before(async () => {
  hook.server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      hook.received.push({ method: req.method, path: req.url, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{"ok":true}');
    });
  });
  await new Promise((resolve) => hook.server.listen(0, '127.0.0.1', resolve));
  hook.url = `http://127.0.0.1:${hook.server.address().port}/hook`;
});
after(() => hook.server?.close());

test('notifications: add a webhook channel through the form, test it, see it delivered and in the history', async () => {
  const { page, errors } = await demo.open(DESKTOP, '/settings', '[data-testid="notify-channels"]', WAIT.timeout);
  await page.waitForSelector('[data-testid="channels-empty"], [data-testid="channel-card"]', WAIT);

  // Add channel → Webhook → the kind's form.
  await page.click('[data-testid="channel-add"]');
  await page.click('[data-testid="kind-webhook"]');
  const form = page.locator('[data-testid="channel-form"][data-kind="webhook"]');
  await form.waitFor(WAIT);
  assert.equal(await form.locator('[data-testid="field-preset"]').inputValue(), 'generic');
  assert.equal(await form.locator('[data-testid="field-url"]').getAttribute('type'), 'password', 'the URL is a secret field');

  // Checked before it is sent: the URL is required.
  await form.locator('[data-testid="channel-name"]').fill('Local hook');
  await form.locator('[data-testid="channel-save"]').click();
  assert.match((await form.locator('[data-testid="channel-error"]').textContent()) ?? '', /URL is required/);

  await form.locator('[data-testid="field-url"]').fill(hook.url);
  await form.locator('[data-testid="channel-save"]').click();
  const card = page.locator('[data-testid="channel-card"][data-name="Local hook"]');
  await card.waitFor(WAIT);
  await form.waitFor({ state: 'detached', timeout: 5_000 });
  assert.equal(await card.getAttribute('data-state'), 'none', 'a new channel has never sent');

  // Send a test: the result shows inline with the service's reply, or its exact error.
  await card.locator('[data-testid="channel-test"]').click();
  const result = card.locator('[data-testid="channel-test-result"]');
  await result.waitFor(WAIT);
  const text = (await result.textContent()) ?? '';
  assert.equal(await result.getAttribute('data-ok'), 'true', `the test is delivered; the card says: ${text.trim()}`);
  assert.match(text, /Test delivered/);

  // The local server got one JSON message with the test's title.
  assert.ok(hook.received.length >= 1, 'the local server received the test');
  const got = hook.received.at(-1);
  assert.equal(got.method, 'POST');
  assert.equal(got.path, '/hook');
  const body = JSON.parse(got.body);
  assert.equal(body.title, 'proxwatch test message');

  // The card turns green once the list reloads.
  await page.waitForSelector('[data-testid="channel-card"][data-name="Local hook"][data-state="ok"]', WAIT);

  // History: the test message, sent.
  await page.click('[data-testid="settings-tab-history"]');
  const row = page.locator('[data-testid="history-row"][data-kind="system.test"]').first();
  await row.waitFor(WAIT);
  assert.equal(await row.getAttribute('data-status'), 'sent');
  assert.match((await row.textContent()) ?? '', /Local hook/);
  await row.locator('[data-testid="history-expand"]').click();
  assert.match((await page.locator('[data-testid="history-detail"]').first().textContent()) ?? '', /proxwatch test message/);
  await page.screenshot({ path: `${SHOTS}/notifications-history.png`, fullPage: true });

  assert.deepEqual(errors, []);
  await page.close();
});

test('notifications: the Settings page fits 375 px; the routing matrix scrolls in its own box', async () => {
  const { page, errors } = await demo.open(PHONE, '/settings', '[data-testid="notify-channels"]', WAIT.timeout);
  const fits = async (what) => {
    const w = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(w <= 375, `${what}: the page is ${w}px wide at a 375px viewport`);
  };
  await page.waitForSelector('[data-testid="channels-empty"], [data-testid="channel-card"]', WAIT);
  await fits('channels');

  // The add form is one column.
  await page.click('[data-testid="channel-add"]');
  await page.click('[data-testid="kind-email"]');
  await page.waitForSelector('[data-testid="channel-form"]', WAIT);
  await fits('the e-mail form');
  // Each of the form's grids (the kind's fields, delivery, quiet hours, AI) is one column.
  const columns = await page.$$eval('[data-testid="channel-form"] .grid', (grids) =>
    grids.map((g) => new Set([...g.children].filter((c) => c.getBoundingClientRect().width > 0).map((c) => Math.round(c.getBoundingClientRect().left))).size),
  );
  assert.ok(columns.length >= 2 && columns.every((n) => n === 1), `the form is one column (columns per grid: ${columns.join(', ')})`);
  await page.screenshot({ path: `${SHOTS}/notifications-form-phone.png`, fullPage: true });
  await page.click('[data-testid="channel-form"] button:has-text("Cancel")');

  await page.click('[data-testid="settings-tab-routing"]');
  await page.waitForSelector('[data-testid="routing-matrix"] table, [data-testid="routing-empty"]', WAIT);
  await fits('routing');
  if (await page.locator('[data-testid="routing-matrix"] table').count()) {
    const pos = await page.$eval('[data-testid="routing-matrix"] tbody th', (el) => getComputedStyle(el).position);
    assert.equal(pos, 'sticky', 'the event column stays put while the matrix scrolls');
  }
  await page.screenshot({ path: `${SHOTS}/notifications-routing-phone.png`, fullPage: true });

  await page.click('[data-testid="settings-tab-engine"]');
  await page.waitForSelector('[data-testid="engine-save"]', WAIT);
  await fits('engine');

  await page.click('[data-testid="settings-tab-history"]');
  await page.waitForSelector('[data-testid="history-table"], [data-testid="history-empty"]', WAIT);
  await fits('history');
  assert.deepEqual(errors, []);
  await page.close();
});
