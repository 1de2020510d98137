// Browser test of the API page against `proxwatch demo`: every operation of /api/openapi.json is
// listed with its access, the filter narrows the list, and the "copy as curl" line for GET /api/vms
// works as written when run with a real read token.
// Run from the repository root (after `cargo build` and `cd web && npm run build`):
//   node --test web/tests/e2e/api.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { demoSuite, DESKTOP, PHONE, SHOTS } from './harness.mjs';

const WAIT = { timeout: 20_000 };
const demo = demoSuite();

/** A read-scoped token, made in the page's session the way the Security page does it. */
async function readToken(page) {
  return page.evaluate(async () => {
    const status = await (await fetch('api/auth/status')).json();
    const r = await fetch('api/auth/tokens', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-csrf-token': status.csrf_token },
      body: JSON.stringify({ name: 'curl-e2e', scope: 'read', password: 'demo' }),
    });
    return (await r.json()).token;
  });
}

test('api page: every operation listed, filter, copy as curl that runs', async () => {
  const { page, errors } = await demo.open(DESKTOP, '/apidocs', '[data-testid="api-op"]');
  const spec = await page.evaluate(async () => (await fetch('api/openapi.json')).json());
  let n = 0;
  for (const item of Object.values(spec.paths)) n += Object.keys(item).length;
  assert.ok(n > 60, `the description has ${n} operations`);
  assert.equal(await page.locator('[data-testid="api-op"]').count(), n, 'one row per operation');

  // Token routes say they take no token; the metrics endpoint is listed.
  const tokens = page.locator('[data-testid="api-op"][data-op="POST /api/auth/tokens"]');
  assert.match((await tokens.locator('summary').textContent()) ?? '', /session/);
  assert.equal(await page.locator('[data-testid="api-op"][data-op="GET /metrics"]').count(), 1);

  await page.fill('[data-testid="api-filter"]', '/api/vms');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="api-op"]').length < 10, null, WAIT);
  const vms = page.locator('[data-testid="api-op"][data-op="GET /api/vms"]');
  await vms.locator('summary').click();
  const line = (await vms.locator('[data-testid="api-curl"]').textContent()) ?? '';
  assert.match(line, /Authorization: Bearer \$PROXWATCH_TOKEN/);
  assert.ok(line.includes(`'${new URL('/api/vms', page.url()).href}'`), line);
  await page.screenshot({ path: `${SHOTS}/api-desktop.png`, fullPage: true });

  // The line runs as written in a shell with the token in the environment.
  const token = await readToken(page);
  assert.match(token ?? '', /^pxw_/);
  const out = execFileSync('bash', ['-c', line], { env: { ...process.env, PROXWATCH_TOKEN: token }, encoding: 'utf8' });
  const body = JSON.parse(out);
  assert.ok(Array.isArray(body.guests?.data), `GET /api/vms answered its guests: ${out.slice(0, 120)}`);
  assert.deepEqual(errors, [], 'no uncaught page errors');
  await page.close();
});

test('api page: phone layout has no horizontal overflow', async () => {
  const { page, errors } = await demo.open(PHONE, '/apidocs', '[data-testid="api-op"]');
  await page.locator('[data-testid="api-op"]').first().locator('summary').click();
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 375, `the API page is ${width}px wide at a 375px viewport`);
  assert.deepEqual(errors, []);
  await page.close();
});

test('settings: the Home Assistant (MQTT) card saves, masks the password, and refuses a bad broker', async () => {
  const { page, errors } = await demo.open(DESKTOP, '/settings?tab=integrations', '[data-testid="mqtt-card"] [data-testid="mqtt-form"]');
  assert.equal(await page.getAttribute('[data-testid="mqtt-state"]', 'data-state'), 'disabled');
  await page.check('[data-testid="mqtt-enabled"]');
  await page.fill('[data-testid="mqtt-url"]', 'http://not-a-broker');
  await page.click('[data-testid="mqtt-save"]');
  await page.waitForSelector('[data-testid="mqtt-save-error"]', WAIT);
  assert.match((await page.textContent('[data-testid="mqtt-save-error"]')) ?? '', /mqtt:\/\//);

  // A broker nobody listens on: saved, and the card reports the client's failure.
  await page.fill('[data-testid="mqtt-url"]', 'mqtt://127.0.0.1:9');
  await page.fill('[data-testid="mqtt-username"]', 'ha');
  await page.fill('[data-testid="mqtt-password"]', 'secret-1');
  await page.click('[data-testid="mqtt-save"]');
  await page.waitForSelector('[data-testid="mqtt-password"][placeholder^="stored"]', WAIT);
  const saved = await page.evaluate(async () => (await fetch('api/integrations/mqtt')).json());
  assert.equal(saved.settings.password, '********', 'the password is never answered');
  await page.waitForSelector('[data-testid="mqtt-state"][data-state="error"]', { timeout: 30_000 });
  assert.match((await page.textContent('[data-testid="mqtt-error"]')) ?? '', /\S/);
  assert.deepEqual(errors, []);
  await page.close();
});
