// Browser test of Settings → Notifications against `proxwatch demo`: an admin adds a Webhook channel
// (generic preset) pointing at a local HTTP server through the UI's form, sends a test, sees the
// reply inline, the local server gets the JSON message, and the history shows the test as sent.
// Integrations (admins): the Proxmox VE webhook setup is shown, and the AI provider's form saves
// (pointing at a local OpenAI-compatible server), tests, and keeps its key without showing it.
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

/** A local OpenAI-compatible provider: answers every chat-completions call with a fixed rewrite. */
const llm = { server: null, url: '', received: [] };
before(async () => {
  llm.server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      llm.received.push({ method: req.method, path: req.url, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(
        JSON.stringify({
          choices: [{ message: { content: 'Rewritten title\nRewritten body' }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 10, completion_tokens: 5 },
        }),
      );
    });
  });
  await new Promise((resolve) => llm.server.listen(0, '127.0.0.1', resolve));
  llm.url = `http://127.0.0.1:${llm.server.address().port}`;
});
after(() => llm.server?.close());

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

test('notifications: a number typed in a channel form (the SMTP port) is saved', async () => {
  const { page, errors } = await demo.open(DESKTOP, '/settings', '[data-testid="notify-channels"]', WAIT.timeout);
  await page.waitForSelector('[data-testid="channels-empty"], [data-testid="channel-card"]', WAIT);
  await page.click('[data-testid="channel-add"]');
  await page.click('[data-testid="kind-email"]');
  const form = page.locator('[data-testid="channel-form"][data-kind="email"]');
  await form.waitFor(WAIT);
  await form.locator('[data-testid="channel-name"]').fill('Mail');
  if (await form.locator('[data-testid="field-transport"]').count()) await form.locator('[data-testid="field-transport"]').selectOption('smtp');
  await form.locator('[data-testid="field-host"]').fill('smtp.example.com');
  await form.locator('[data-testid="field-port"]').fill('2525');
  await form.locator('[data-testid="field-from"]').fill('proxwatch@example.com');
  await form.locator('[data-testid="field-to"]').fill('admin@example.com');
  await form.locator('[data-testid="channel-save"]').click();
  const card = page.locator('[data-testid="channel-card"][data-name="Mail"]');
  await card.waitFor(WAIT);
  await card.locator('[data-testid="channel-edit"]').click();
  const edit = page.locator('[data-testid="channel-form"][data-kind="email"]');
  await edit.waitFor(WAIT);
  assert.equal(await edit.locator('[data-testid="field-port"]').inputValue(), '2525');
  await edit.locator('button:has-text("Cancel")').click();
  assert.deepEqual(errors, []);
  await page.close();
});

test('notifications: the engine settings save a changed number and a cooldown', async () => {
  const { page, errors } = await demo.open(DESKTOP, '/settings?tab=engine', '[data-testid="engine-save"]', WAIT.timeout);
  await page.fill('[data-testid="setting-burst_threshold"]', '7');
  const cooldown = page.locator('[data-testid^="cooldown-"]').first();
  await cooldown.fill('120');
  await page.click('[data-testid="engine-save"]');
  await page.waitForSelector('[data-testid="engine-settings"] .msg.ok', WAIT);
  await page.reload();
  await page.waitForSelector('[data-testid="engine-save"]', WAIT);
  assert.equal(await page.inputValue('[data-testid="setting-burst_threshold"]'), '7');
  assert.equal(await page.locator('[data-testid^="cooldown-"]').first().inputValue(), '120');
  assert.deepEqual(errors, []);
  await page.close();
});

test('notifications: Integrations shows the Proxmox VE webhook setup', async () => {
  const { page, errors } = await demo.open(DESKTOP, '/settings?tab=integrations', '[data-testid="pve-card"]', WAIT.timeout);
  await page.waitForSelector('[data-testid="pve-url"]', WAIT);
  assert.equal(await page.getAttribute('[data-testid="settings-tab-integrations"]', 'aria-pressed'), 'true');
  assert.match((await page.textContent('[data-testid="pve-url"]')) ?? '', /^http:\/\/127\.0\.0\.1:\d+\/api\/notifications\/pve\/webhook$/);
  const cfg = (await page.textContent('[data-testid="pve-public-cfg"]')) ?? '';
  assert.match(cfg, /^webhook: proxwatch$/m);
  assert.match(cfg, /^matcher: proxwatch-all$/m);
  assert.match((await page.textContent('[data-testid="pve-commands"]')) ?? '', /pvesh create/);
  // The secret only when asked.
  const hiddenPriv = (await page.textContent('[data-testid="pve-private-cfg"]')) ?? '';
  assert.match(hiddenPriv, /<secret>/);
  await page.click('[data-testid="pve-reveal"]');
  await page.waitForFunction(() => !document.querySelector('[data-testid="pve-private-cfg"]')?.textContent?.includes('<secret>'), null, WAIT);
  assert.match((await page.textContent('[data-testid="pve-private-cfg"]')) ?? '', /secret name=token,value=[A-Za-z0-9+/=]+/);
  assert.equal(await page.textContent('[data-testid="pve-reveal"]').then((t) => t?.trim()), 'Hide secret');
  await page.screenshot({ path: `${SHOTS}/notifications-integrations.png`, fullPage: true });

  // "Install on this host" asks first, then shows pvesh's report (the demo has no pvesh recording:
  // the target's step fails with the replay's message and the matcher's is skipped), the secret masked.
  const secret = /value=([A-Za-z0-9+/=]+)/.exec((await page.textContent('[data-testid="pve-private-cfg"]')) ?? '')?.[1];
  assert.ok(secret, 'the revealed secret');
  await page.click('[data-testid="pve-install"]');
  await page.click('[data-testid="pve-install-confirm"]');
  await page.waitForSelector('[data-testid="pve-report"], [data-testid="pve-install-error"]', WAIT);
  const report = page.locator('[data-testid="pve-report"]');
  if (await report.count()) {
    const steps = report.locator('[data-testid="pve-step"]');
    assert.equal(await steps.count(), 2, 'the target and the matcher');
    assert.match((await steps.first().textContent()) ?? '', /pvesh create \/cluster\/notifications\/endpoints\/webhook/);
    assert.match((await steps.first().textContent()) ?? '', /<secret>/);
    if ((await steps.first().getAttribute('data-status')) === 'failed') assert.equal(await steps.nth(1).getAttribute('data-status'), 'skipped');
    assert.ok(!((await report.textContent()) ?? '').includes(secret), 'the report masks the secret');
  }
  assert.deepEqual(errors, []);
  await page.close();
});

test('notifications: the AI form saves, tests against a local OpenAI-compatible server, keeps the key hidden', async () => {
  const KEY = 'sk-test-e2e-1234567890';
  const { page, errors } = await demo.open(DESKTOP, '/settings?tab=integrations', '[data-testid="ai-form"]', WAIT.timeout);
  assert.equal(await page.isChecked('[data-testid="ai-enabled"]'), false, 'AI rewriting is off by default');
  assert.equal(await page.isChecked('[data-testid="ai-redact"]'), true, 'redaction is on by default');

  await page.check('[data-testid="ai-enabled"]');
  await page.selectOption('[data-testid="ai-preset"]', 'compatible');
  await page.fill('[data-testid="ai-base-url"]', llm.url);
  await page.fill('[data-testid="ai-model"]', 'test-model');
  await page.fill('[data-testid="ai-key"]', KEY);
  await page.click('[data-testid="ai-save"]');
  await page.waitForSelector('[data-testid="ai-key-set"]', WAIT);
  assert.equal(await page.textContent('[data-testid="ai-state"]'), 'on');
  assert.equal(await page.inputValue('[data-testid="ai-key"]'), '', 'the key field is empty once saved');

  await page.click('[data-testid="ai-test"]');
  const result = page.locator('[data-testid="ai-test-result"]');
  await result.waitFor(WAIT);
  const text = (await result.textContent()) ?? '';
  assert.equal(await result.getAttribute('data-ok'), 'true', `the test worked; it says: ${text.trim()}`);
  assert.equal((await page.textContent('[data-testid="ai-test-title"]'))?.trim(), 'Rewritten title');
  assert.match(text, /Rewritten body/);
  assert.match(text, /10 tokens in, 5\s+out/);

  // The provider got one chat-completions call with the key in its header.
  const call = llm.received.at(-1);
  assert.ok(call, 'the local provider was called');
  assert.equal(call.path, '/v1/chat/completions');
  assert.equal(call.headers.authorization, `Bearer ${KEY}`);
  assert.equal(JSON.parse(call.body).model, 'test-model');

  // Reloaded: the key is set (masked), never shown; the rest as saved.
  const answers = [];
  page.on('response', async (r) => {
    if (r.url().includes('/api/notifications/ai')) answers.push(await r.text().catch(() => ''));
  });
  await page.reload();
  await page.waitForSelector('[data-testid="ai-key-set"]', WAIT);
  assert.equal(await page.inputValue('[data-testid="ai-key"]'), '');
  assert.equal(await page.isChecked('[data-testid="ai-enabled"]'), true);
  assert.equal(await page.inputValue('[data-testid="ai-preset"]'), 'compatible');
  assert.equal(await page.inputValue('[data-testid="ai-base-url"]'), llm.url);
  assert.equal(await page.inputValue('[data-testid="ai-model"]'), 'test-model');
  assert.ok(!(await page.content()).includes(KEY), 'the key is nowhere in the page');
  assert.ok(answers.length >= 1 && answers.every((a) => !a.includes(KEY)), 'the key is in no API answer');
  assert.ok(answers.some((a) => a.includes('"api_key":"********"')), 'the key comes back masked');

  // Saving again without typing keeps the key (the next test still sends it).
  await page.fill('[data-testid="ai-model"]', 'test-model-2');
  await page.click('[data-testid="ai-test"]'); // "Save and test"
  await page.waitForSelector('[data-testid="ai-test-result"][data-ok="true"]', WAIT);
  assert.equal(llm.received.at(-1).headers.authorization, `Bearer ${KEY}`);
  assert.equal(JSON.parse(llm.received.at(-1).body).model, 'test-model-2');
  await page.waitForSelector('[data-testid="ai-key-set"]', WAIT);

  // A bad value is refused with the field named.
  await page.fill('[data-testid="ai-max-tokens"]', '5');
  await page.click('[data-testid="ai-save"]');
  assert.match((await page.textContent('[data-testid="ai-error"]')) ?? '', /Max tokens/);
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

  // Integrations: the config blocks scroll inside themselves.
  await page.click('[data-testid="settings-tab-integrations"]');
  await page.waitForSelector('[data-testid="pve-public-cfg"]', WAIT);
  await page.waitForSelector('[data-testid="ai-form"]', WAIT);
  await fits('integrations');
  const scrolls = await page.$eval('[data-testid="pve-commands"]', (el) => el.scrollWidth > el.clientWidth && getComputedStyle(el).overflowX === 'auto');
  assert.ok(scrolls, 'the pvesh commands scroll within their own box');
  await page.screenshot({ path: `${SHOTS}/notifications-integrations-phone.png`, fullPage: true });
  assert.deepEqual(errors, []);
  await page.close();
});
