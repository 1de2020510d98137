// Browser test of the Docker containers (issue 19) on the demo, whose agent "docker01" runs in VM 101
// with a healthy, an unhealthy, a restarting and an exited container among others: the Containers page
// has one row per container of /api/agents with its state and health; the filters count and show only
// theirs; a row opens to its mounts and environment, a password masked; the agent's header links its
// guest; adding an agent shows its token and install command once, and it can be removed; VM 101's
// page lists its containers (VM 102's has none); at 375 px nothing scrolls sideways. No console errors.
// Run from the repository root (after `cargo build`):  node --test web/tests/e2e/containers.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { demoSuite, DESKTOP, PHONE, SHOTS } from './harness.mjs';

const demo = demoSuite();
const WAIT = { timeout: 20_000 };

async function api(page, path) {
  return page.evaluate(async (p) => {
    const r = await fetch(p, { headers: { Accept: 'application/json' } });
    if (!r.ok) throw new Error(`${p}: ${r.status}`);
    return r.json();
  }, new URL(path, demo.server.url).href);
}

async function open(opts, path, ready) {
  const { page, errors } = await demo.open(opts, path, ready);
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()} (${m.location().url})`);
  });
  return { page, errors };
}

const agentSel = (name) => `[data-testid="agent"][data-name="${name}"]`;

function rowsOnPage() {
  return [...document.querySelectorAll('[data-testid="container-row"]')].map((r) => ({
    id: r.getAttribute('data-id'),
    name: r.getAttribute('data-name'),
    state: r.getAttribute('data-state'),
    health: r.getAttribute('data-health'),
    stateBadge: r.querySelector('[data-testid="container-state"]')?.textContent?.trim() ?? null,
    healthBadge: r.querySelector('[data-testid="container-health"]')?.textContent?.trim() ?? null,
    restarts: r.querySelector('[data-testid="container-restarts"]')?.textContent?.trim() ?? null,
  }));
}

test('the Containers page: a row per container of /api/agents, the filters, the masked environment, the guest link', async () => {
  const { page, errors } = await open(DESKTOP, '/containers', `${agentSel('docker01')} [data-testid="container-row"]`);
  const { agents } = await api(page, '/api/agents');
  const all = agents.flatMap((a) => a.containers);
  const docker01 = agents.find((a) => a.name === 'docker01');
  assert.ok(docker01, 'the demo has docker01');
  assert.equal(docker01.vmid, 101);
  for (const want of ['running', 'restarting', 'exited']) assert.ok(docker01.containers.some((c) => c.state === want), `a ${want} container`);
  assert.ok(docker01.containers.some((c) => c.health === 'healthy' && c.state === 'running'), 'a healthy running container');
  assert.ok(docker01.containers.some((c) => c.health === 'unhealthy'), 'an unhealthy container');

  const rows = await page.evaluate(rowsOnPage);
  assert.deepEqual(rows.map((r) => r.id), all.map((c) => c.id), 'one row per container, in the API order');
  for (const [i, c] of all.entries()) {
    const r = rows[i];
    assert.equal(r.name, c.name);
    assert.equal(r.state, c.state);
    assert.equal(r.stateBadge, c.state);
    assert.equal(r.health, c.health ?? '');
    assert.equal(r.healthBadge, c.health);
    assert.equal(r.restarts, String(c.restart_count));
  }
  // The header: the guest (and how it was found), the counts, the last report.
  const head = page.locator(agentSel('docker01'));
  const guest = head.locator('[data-testid="agent-guest"]');
  assert.equal(await guest.getAttribute('href'), '/vms/101');
  assert.match((await guest.textContent()) ?? '', /^VM 101/);
  if (docker01.guest_name) assert.match((await guest.textContent()) ?? '', new RegExp(`\\(${docker01.guest_name}\\)`));
  assert.match((await head.locator('[data-testid="agent-counts"]').textContent()) ?? '', new RegExp(`${docker01.counts.total} containers · ${docker01.counts.running} running`));
  assert.match((await head.textContent()) ?? '', /last report (just now|\d+ (min|h|d) ago)/);

  // The filters: their counts, and only theirs shown.
  const pred = {
    all: () => true,
    unhealthy: (c) => c.health === 'unhealthy',
    restarting: (c) => c.state === 'restarting',
    exited: (c) => c.state === 'exited' || c.state === 'dead',
  };
  for (const [key, p] of Object.entries(pred)) {
    assert.equal(Number(await page.getAttribute(`[data-testid="filter-${key}"]`, 'data-count')), all.filter(p).length, `${key} count`);
  }
  await page.click('[data-testid="filter-unhealthy"]');
  await page.waitForSelector('[data-testid="filter-unhealthy"][aria-pressed="true"]', WAIT);
  const unhealthy = await page.evaluate(rowsOnPage);
  assert.deepEqual(unhealthy.map((r) => r.id), all.filter(pred.unhealthy).map((c) => c.id), 'only the unhealthy ones');
  assert.ok(unhealthy.length >= 1 && unhealthy.every((r) => r.health === 'unhealthy'));
  await page.click('[data-testid="filter-exited"]');
  await page.waitForSelector('[data-testid="filter-exited"][aria-pressed="true"]', WAIT);
  assert.deepEqual((await page.evaluate(rowsOnPage)).map((r) => r.id), all.filter(pred.exited).map((c) => c.id), 'only the exited ones');
  await page.click('[data-testid="filter-all"]');
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid="container-row"]').length === n, all.length, WAIT);

  // The row with a password opens to its mounts and environment, the value masked.
  const secret = docker01.containers.find((c) => c.env.some((e) => /^[A-Z_]*PASSWORD=/.test(e)));
  assert.ok(secret, 'a container with a password in its environment');
  const masked = secret.env.find((e) => /^[A-Z_]*PASSWORD=/.test(e));
  assert.match(masked, /^[A-Z_]*PASSWORD=\*\*\*$/, 'masked by the server');
  const row = page.locator(`[data-testid="container-row"][data-id="${secret.id}"]`);
  await row.locator('[data-testid="container-expand"]').click();
  const detail = page.locator(`[data-testid="container-detail"][data-name="${secret.name}"]`);
  await detail.waitFor(WAIT);
  assert.equal(await row.getAttribute('aria-expanded'), 'true');
  const env = await detail.locator('[data-testid="container-env"] li').allTextContents();
  assert.deepEqual(env.map((e) => e.trim()), secret.env);
  assert.ok(env.some((e) => e.trim() === masked));
  for (const m of secret.mounts) assert.match((await detail.textContent()) ?? '', new RegExp(m.destination.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  await page.screenshot({ path: `${SHOTS}/containers-desktop.png`, fullPage: true });
  await row.locator('[data-testid="container-expand"]').click();
  await detail.waitFor({ state: 'detached', ...WAIT });

  // The guest link opens the guest.
  await guest.click();
  await page.waitForSelector('[data-testid="page-guest"]', WAIT);
  assert.match(new URL(page.url()).pathname, /\/vms\/101$/);
  assert.deepEqual(errors, []);
  await page.close();
});

test('adding an agent shows its token and install command once; it is listed waiting, then removed', async () => {
  const { page, errors } = await open(DESKTOP, '/containers', agentSel('docker01'));
  await page.click('[data-testid="agent-add"]');
  await page.waitForSelector('[data-testid="agent-form"]', WAIT);
  await page.fill('[data-testid="agent-name"]', 'e2e-agent');
  await page.fill('[data-testid="agent-interval"]', '120');
  const created = page.waitForResponse((r) => r.url().endsWith('/api/agents') && r.request().method() === 'POST');
  await page.click('[data-testid="agent-save"]');
  const answer = await (await created).json();
  const once = page.locator('[data-testid="agent-created"]');
  await once.waitFor(WAIT);
  assert.match((await once.textContent()) ?? '', /only\s+this once/);
  assert.equal(((await page.textContent('[data-testid="agent-token"]')) ?? '').trim(), answer.token);
  assert.equal(((await page.textContent('[data-testid="agent-install"]')) ?? '').trim(), answer.install.trim());
  assert.ok(answer.install.length > 0 && answer.token.length > 0);
  assert.equal(await once.locator('[data-testid="agent-install-copy"]').count(), 1);
  assert.equal(await once.locator('[data-testid="agent-token-copy"]').count(), 1);
  // Listed, waiting for its first report.
  const mine = page.locator(agentSel('e2e-agent'));
  await mine.waitFor(WAIT);
  await mine.locator('[data-testid="agent-waiting"]').waitFor(WAIT);
  assert.equal(answer.agent.name, 'e2e-agent');
  // Once: gone after Done, and not there after a reload.
  await page.click('[data-testid="agent-done"]');
  await once.waitFor({ state: 'detached', ...WAIT });
  await page.reload();
  await page.waitForSelector(agentSel('e2e-agent'), WAIT);
  assert.equal(await page.locator('[data-testid="agent-created"]').count(), 0);
  assert.doesNotMatch(await page.innerText('main'), new RegExp(answer.token.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  // Removed (two clicks): gone from the page and the API.
  await page.locator(`${agentSel('e2e-agent')} [data-testid="agent-remove"]`).click();
  await page.locator(`${agentSel('e2e-agent')} [data-testid="agent-remove-confirm"]`).click();
  await page.waitForSelector(agentSel('e2e-agent'), { state: 'detached', ...WAIT });
  assert.equal((await api(page, '/api/agents')).agents.some((a) => a.name === 'e2e-agent'), false);
  assert.deepEqual(errors, []);
  await page.close();
});

test('the guest page of VM 101 lists its containers; VM 102 has no Containers section', async () => {
  const { page, errors } = await open(DESKTOP, '/vms/101', '[data-testid="guest-containers"] [data-testid="container-row"]');
  const { agents } = await api(page, '/api/agents');
  const want = agents.filter((a) => a.vmid === 101).flatMap((a) => a.containers);
  assert.ok(want.length >= 4);
  const ids = await page.$$eval('[data-testid="guest-containers"] [data-testid="container-row"]', (rs) => rs.map((r) => r.getAttribute('data-id')));
  assert.deepEqual(ids, want.map((c) => c.id));
  // VM 102's page, once the agents' answer has arrived: no section.
  const answered = page.waitForResponse((r) => r.url().endsWith('/api/agents'), WAIT);
  await page.goto(new URL('/vms/102', demo.server.url).href);
  await page.waitForSelector('[data-testid="guest-config"]', WAIT);
  await answered;
  await page.waitForTimeout(300);
  assert.equal(await page.locator('[data-testid="guest-containers"]').count(), 0);
  assert.deepEqual(errors, []);
  await page.close();
});

test('at 375 px the Containers page does not scroll sideways, an opened row neither', async () => {
  const { page, errors } = await open(PHONE, '/containers', '[data-testid="container-row"]');
  const width = () => page.evaluate(() => document.scrollingElement?.scrollWidth ?? 0);
  await page.waitForTimeout(300);
  assert.ok((await width()) <= 375, `/containers is ${await width()}px wide`);
  const wraps = await page.$$eval('[data-testid="container-table"]', (ts) => ts.map((t) => [t.scrollWidth, t.parentElement?.clientWidth ?? 0]));
  for (const [sw, cw] of wraps) assert.ok(sw <= cw + 1, `a table is ${sw}px in ${cw}px`);
  await page.locator('[data-testid="container-expand"]').first().click();
  await page.waitForSelector('[data-testid="container-detail"]', WAIT);
  assert.ok((await width()) <= 375, `with a row open: ${await width()}px wide`);
  await page.screenshot({ path: `${SHOTS}/containers-phone.png`, fullPage: true });
  assert.deepEqual(errors, []);
  await page.close();
});
