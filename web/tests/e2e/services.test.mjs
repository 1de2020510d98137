// Browser test of the service monitors' pages (issue 18) on the demo: the Services list agrees with
// /api/monitors (status bar counts, one heartbeat block per check in the check's colour, uptime, the
// stopped guest), a failed check's block names its error, the monitor page has the annotated incident
// and a latency chart, the add form shows the API's field error next to the field and then creates
// the monitor, pause / run now / delete work, maintenance windows (once and weekly) are planned and
// deleted, the suggestions list the ping monitors, the guest page lists its monitors, and at 375 px
// nothing scrolls sideways. No console errors (but the one 400 the bad port is meant to draw).
// Run from the repository root (after `cargo build`):  node --test web/tests/e2e/services.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { demoSuite, DESKTOP, PHONE, SHOTS } from './harness.mjs';

const demo = demoSuite();
const WAIT = { timeout: 20_000 };

/** The API answer `path` gives this page's session. */
async function api(page, path) {
  return page.evaluate(async (p) => {
    const r = await fetch(p, { headers: { Accept: 'application/json' } });
    if (!r.ok) throw new Error(`${p}: ${r.status}`);
    return r.json();
  }, new URL(path, demo.server.url).href);
}

/** Retries `fn` (which throws while it does not hold) until it holds or `ms` have passed. */
async function eventually(fn, ms = 30_000) {
  const end = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > end) throw e;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/** A page at `path` (logged in as the demo admin) and the errors it logs, but the expected 400s. */
async function open(opts, path, ready) {
  const { page, errors } = await demo.open(opts, path, ready);
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    // The bad port's answer: the browser logs every 4xx it fetched.
    if (/status of 400/.test(m.text()) && /\/api\/monitors$/.test(m.location().url ?? '')) return;
    errors.push(`console: ${m.text()} (${m.location().url})`);
  });
  return { page, errors };
}

const row = (name) => `[data-testid="monitor-row"][data-name="${name}"]`;

/** The rows as the page shows them: id, status, each beat's status, colour and tooltip, uptime. */
function rowsOnPage() {
  const css = getComputedStyle(document.documentElement);
  const rgb = (hex) => {
    const h = css.getPropertyValue(hex).trim().replace('#', '');
    const n = parseInt(h, 16);
    return `rgb(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255})`;
  };
  const colours = { up: rgb('--ok'), degraded: rgb('--warn'), down: rgb('--crit'), stopped: rgb('--text-dim'), maintenance: rgb('--accent') };
  const bar = document.querySelector('[data-testid="services-statusbar"]');
  return {
    counts: { up: Number(bar?.getAttribute('data-up')), down: Number(bar?.getAttribute('data-down')), maintenance: Number(bar?.getAttribute('data-maintenance')) },
    colours,
    rows: [...document.querySelectorAll('[data-testid="monitor-row"]')].map((r) => ({
      id: Number(r.getAttribute('data-id')),
      name: r.getAttribute('data-name'),
      status: r.getAttribute('data-status'),
      beats: [...r.querySelectorAll('[data-testid="heartbeat"] [data-testid="beat"]')].map((b) => ({
        status: b.getAttribute('data-status'),
        maintenance: b.getAttribute('data-maintenance') === 'true',
        colour: getComputedStyle(b).backgroundColor,
        title: b.getAttribute('title') ?? '',
      })),
      sparkline: r.querySelector('[data-testid="sparkline"]') !== null,
      uptime: ['24h', '7d', '30d'].map((k) => r.querySelector(`[data-testid="uptime-${k}"] b`)?.textContent?.trim() ?? null),
      uptime24: r.querySelector('[data-testid="uptime-24h"]')?.getAttribute('data-value') ?? null,
    })),
  };
}

test('the list agrees with /api/monitors: counts, heartbeat blocks and colours, uptime, the stopped guest', async () => {
  const t0 = Date.now();
  const { page, errors } = await open(DESKTOP, '/services', '[data-testid="monitor-row"]');
  assert.equal(await page.locator('[data-testid="monitor-row"]').count(), 6, 'the demo seeds six monitors');
  // The stopped guest's monitor is "guest stopped" after its first check (within its minute; Run now
  // does it at once).
  const ha = page.locator(row('Home Assistant'));
  if ((await ha.getAttribute('data-status')) !== 'guest_stopped') await ha.locator('[data-testid="monitor-run"]').click();
  await page.waitForSelector(`${row('Home Assistant')}[data-status="guest_stopped"]`, WAIT);
  assert.match((await ha.locator('[data-testid="monitor-status"]').textContent()) ?? '', /guest stopped/);

  await eventually(async () => {
    const [list, shown] = await Promise.all([api(page, '/api/monitors'), page.evaluate(rowsOnPage)]);
    assert.deepEqual(shown.counts, { up: list.counts.up, down: list.counts.down, maintenance: list.counts.maintenance }, 'status bar counts');
    assert.deepEqual(shown.rows.map((r) => r.id), list.monitors.map((m) => m.id));
    for (const [i, m] of list.monitors.entries()) {
      const r = shown.rows[i];
      assert.equal(r.status, m.state.status, `${m.spec.name}: status`);
      assert.ok(m.beats.length <= 90);
      assert.equal(r.beats.length, m.beats.length, `${m.spec.name}: one block per check`);
      assert.deepEqual(r.beats.map((b) => b.status), m.beats.map((b) => b.status), `${m.spec.name}: blocks in the checks' order`);
      for (const b of r.beats) {
        const want = b.status === 'stopped' ? shown.colours.stopped : b.maintenance ? shown.colours.maintenance : shown.colours[b.status];
        assert.equal(b.colour, want, `${m.spec.name}: a ${b.status} block is ${want}`);
        assert.match(b.title, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d · /, `${m.spec.name}: tooltip "${b.title}"`);
      }
      assert.ok(r.sparkline, `${m.spec.name}: sparkline`);
      assert.ok(r.uptime.every((u) => /^(\d+(\.\d\d)? %|—)$/.test(u ?? '')), `${m.spec.name}: uptime ${r.uptime}`);
    }
  });
  // Six minutes down three hours ago: the web ping's day is under 100 %, its month is not yet.
  const ping = (await page.evaluate(rowsOnPage)).rows.find((r) => r.name === 'web ping');
  assert.ok(Number(ping.uptime24) < 100 && Number(ping.uptime24) > 99, `web ping 24 h uptime ${ping.uptime24}`);
  assert.match(ping.uptime[0], /^99\.\d\d %$/);
  const homeAssistant = (await page.evaluate(rowsOnPage)).rows.find((r) => r.name === 'Home Assistant');
  assert.ok(homeAssistant.beats.every((b) => b.status === 'stopped'), 'a stopped guest is not probed');
  assert.doesNotMatch(await page.innerText('main'), /\d\s?(AM|PM)\b/, '24-hour times');
  await page.screenshot({ path: `${SHOTS}/services-desktop.png`, fullPage: true });
  assert.deepEqual(errors, []);
  await page.close();
  console.log(`list check: ${Date.now() - t0} ms`);
});

test('the web ping page: the annotated incident, the latency chart across ranges; operators annotate', async () => {
  const { page, errors } = await open(DESKTOP, '/services', '[data-testid="monitor-row"]');
  await page.click(`${row('web ping')} a.name`);
  await page.waitForSelector('[data-testid="monitor-detail"]', WAIT);
  const id = Number(await page.getAttribute('[data-testid="monitor-detail"]', 'data-id'));
  assert.match(new URL(page.url()).pathname, new RegExp(`/services/${id}$`));
  const incident = page.locator('[data-testid="incidents"] [data-testid="incident"]').first();
  await incident.waitFor(WAIT);
  assert.match((await incident.locator('[data-testid="incident-note"]').textContent()) ?? '', /planned reboot/);
  assert.match((await incident.textContent()) ?? '', /lasted 6 min.*no answer \(3 echoes lost\)/s);
  // Every check of the day, then the 7-day rollups.
  await page.waitForSelector('[data-testid="chart-latency"][data-state="ready"]', WAIT);
  await page.waitForFunction(() => Number(document.querySelector('[data-testid="chart-latency"]')?.getAttribute('data-points')) > 100, null, WAIT);
  await page.click('[data-testid="range-7d"]');
  await page.waitForSelector('[data-testid="chart-latency"][data-range="7d"][data-state="ready"]', WAIT);
  await page.waitForFunction(() => Number(document.querySelector('[data-testid="chart-latency"]')?.getAttribute('data-points')) > 100, null, WAIT);
  for (const k of ['24h', '7d', '30d', '90d']) assert.match((await page.textContent(`[data-testid="uptime-${k}"]`)) ?? '', /\d+(\.\d\d)? %/);
  await page.screenshot({ path: `${SHOTS}/services-monitor-desktop.png`, fullPage: true });

  // The operator's note, changed in place.
  await incident.locator('[data-testid="incident-note-edit"]').click();
  await incident.locator('[data-testid="incident-note-input"]').fill('planned reboot: kernel update 6.8');
  await incident.locator('[data-testid="incident-note-save"]').click();
  await page.waitForFunction(() => /6\.8/.test(document.querySelector('[data-testid="incidents"] [data-testid="incident-note"]')?.textContent ?? ''), null, WAIT);
  const detail = await api(page, `/api/monitors/${id}`);
  assert.equal(detail.incidents[0].note, 'planned reboot: kernel update 6.8');
  assert.equal(detail.incidents[0].note_by, 'demo');
  assert.deepEqual(errors, []);
  await page.close();
});

test('add a monitor: the bad port gets the API field error at the field, the good one is created, pause, run now, delete', async () => {
  const { page, errors } = await open(DESKTOP, '/services', '[data-testid="monitor-row"]');
  const port = new URL(demo.server.url).port;
  await page.click('[data-testid="monitor-add"]');
  await page.waitForSelector('[data-testid="monitor-form"]', WAIT);
  await page.selectOption('[data-testid="mf-kind"]', 'tcp');
  await page.fill('[data-testid="mf-name"]', 'e2e demo port');
  await page.fill('[data-testid="mf-host"]', '127.0.0.1');
  await page.fill('[data-testid="mf-port"]', '0');
  await page.click('[data-testid="mf-save"]');
  // The API's 400 ("target.port: must be from 1 to 65535"), under the port field.
  const err = page.locator('label:has([data-testid="mf-port"]) [data-testid="field-error"][data-field="target.port"]');
  await err.waitFor(WAIT);
  assert.match((await err.textContent()) ?? '', /from 1 to 65535/);
  assert.equal(await page.getAttribute('[data-testid="mf-port"]', 'aria-invalid'), 'true');
  await page.fill('[data-testid="mf-port"]', port);
  await page.click('[data-testid="mf-save"]');
  await page.waitForSelector('[data-testid="services-notice"]', WAIT);
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="monitor-row"]').length === 7, null, WAIT);
  assert.equal(await page.locator('[data-testid="monitor-form"]').count(), 0, 'the form closes');
  const list = await api(page, '/api/monitors');
  const added = list.monitors.find((m) => m.spec.name === 'e2e demo port');
  assert.deepEqual(added.spec.target, { kind: 'tcp', host: '127.0.0.1', port: Number(port) });

  // Checked now, it is up; paused, it says so.
  const mine = page.locator(row('e2e demo port'));
  await mine.locator('[data-testid="monitor-run"]').click();
  await page.waitForSelector(`${row('e2e demo port')}[data-status="up"]`, WAIT);
  assert.equal(await mine.locator('[data-testid="beat"][data-status="up"]').count() >= 1, true);
  await mine.locator('[data-testid="monitor-pause"]').click();
  await page.waitForSelector(`${row('e2e demo port')}[data-status="paused"]`, WAIT);
  assert.match((await mine.locator('[data-testid="monitor-status"]').textContent()) ?? '', /paused/);
  await mine.locator('[data-testid="monitor-resume"]').waitFor(WAIT);

  // A closed port: its failed check is a red block whose tooltip names the error.
  await page.click('[data-testid="monitor-add"]');
  await page.selectOption('[data-testid="mf-kind"]', 'tcp');
  await page.fill('[data-testid="mf-name"]', 'e2e closed port');
  await page.fill('[data-testid="mf-host"]', '127.0.0.1');
  await page.fill('[data-testid="mf-port"]', '1');
  await page.click('[data-testid="mf-save"]');
  const closed = page.locator(row('e2e closed port'));
  await closed.waitFor(WAIT);
  await closed.locator('[data-testid="monitor-run"]').click();
  const down = closed.locator('[data-testid="beat"][data-status="down"]').last();
  await down.waitFor(WAIT);
  const closedId = Number(await closed.getAttribute('data-id'));
  const beat = (await api(page, `/api/monitors/${closedId}`)).monitor.beats.findLast((b) => b.status === 'down');
  assert.ok(beat.error, 'the failed check has an error');
  const title = (await down.getAttribute('title')) ?? '';
  assert.ok(title.includes(beat.error), `tooltip "${title}" names "${beat.error}"`);
  assert.match(title, /connection refused/);
  assert.equal(
    await down.evaluate((b) => getComputedStyle(b).backgroundColor),
    await page.evaluate(() => {
      const n = parseInt(getComputedStyle(document.documentElement).getPropertyValue('--crit').trim().slice(1), 16);
      return `rgb(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255})`;
    }),
  );

  // Deleted from its page (two clicks), it leaves the list.
  await closed.locator('a.name').click();
  await page.waitForSelector(`[data-testid="monitor-detail"][data-id="${closedId}"]`, WAIT);
  await page.click('[data-testid="monitor-delete"]');
  await page.click('[data-testid="monitor-delete-confirm"]');
  await page.waitForSelector('[data-testid="page-services"] [data-testid="monitor-row"]', WAIT);
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="monitor-row"]').length === 7, null, WAIT);
  assert.equal((await api(page, '/api/monitors')).monitors.some((m) => m.id === closedId), false);
  assert.deepEqual(errors, []);
  await page.close();
});

test('maintenance windows: a one-off for a monitor and a weekly one are planned, shown where they apply, deleted', async () => {
  const { page, errors } = await open(DESKTOP, '/services', '[data-testid="monitor-row"]');
  const id = Number(await page.getAttribute(row('web guest agent'), 'data-id'));
  await page.click('[data-testid="windows"] [data-testid="window-add"]');
  await page.waitForSelector('[data-testid="window-form"]', WAIT);
  await page.selectOption('[data-testid="wf-scope"]', `m:${id}`);
  // Open since ten minutes ago, for an hour (24-hour times in the browser's zone).
  const [from, until] = await page.evaluate(() => {
    const p = (n) => String(n).padStart(2, '0');
    const f = (ms) => {
      const d = new Date(ms);
      return [`${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`, `${p(d.getHours())}:${p(d.getMinutes())}`];
    };
    return [f(Date.now() - 600_000), f(Date.now() + 3_000_000)];
  });
  await page.fill('[data-testid="wf-start-date"]', from[0]);
  await page.fill('[data-testid="wf-start-time"]', from[1]);
  await page.fill('[data-testid="wf-end-date"]', until[0]);
  await page.fill('[data-testid="wf-end-time"]', until[1]);
  await page.fill('[data-testid="wf-note"]', 'e2e: disk swap');
  await page.click('[data-testid="wf-save"]');
  const once = page.locator('[data-testid="windows"] [data-testid="window"]', { hasText: 'e2e: disk swap' });
  await once.waitFor(WAIT);
  assert.match((await once.textContent()) ?? '', /open now.*web guest agent/s);
  assert.equal(await once.getAttribute('data-open'), 'true');
  // Checked now, the monitor is in maintenance: counted so, its dot and its new block blue.
  const agent = page.locator(row('web guest agent'));
  await agent.locator('[data-testid="monitor-run"]').click();
  await page.waitForSelector(`${row('web guest agent')}[data-status="maintenance"]`, WAIT);
  await page.waitForSelector('[data-testid="services-statusbar"][data-maintenance="1"]', WAIT);
  const accent = await page.evaluate(() => {
    const n = parseInt(getComputedStyle(document.documentElement).getPropertyValue('--accent').trim().slice(1), 16);
    return `rgb(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255})`;
  });
  const lastBeat = agent.locator('[data-testid="beat"]').last();
  assert.equal(await lastBeat.getAttribute('data-maintenance'), 'true');
  assert.equal(await lastBeat.evaluate((b) => getComputedStyle(b).backgroundColor), accent);
  assert.equal(await agent.locator('.status-dot').evaluate((b) => getComputedStyle(b).backgroundColor), accent);
  assert.match((await lastBeat.getAttribute('title')) ?? '', /\(maintenance\)$/);

  await page.click('[data-testid="windows"] [data-testid="window-add"]');
  await page.click('[data-testid="wf-weekly"]');
  await page.check('[data-testid="wf-day-mon"]');
  await page.fill('[data-testid="wf-time"]', '02:30');
  await page.fill('[data-testid="wf-minutes"]', '90');
  await page.fill('[data-testid="wf-note"]', 'e2e: weekly updates');
  await page.click('[data-testid="wf-save"]');
  const weekly = page.locator('[data-testid="windows"] [data-testid="window"]', { hasText: 'e2e: weekly updates' });
  await weekly.waitFor(WAIT);
  assert.match((await weekly.textContent()) ?? '', /Mon, Sun at 02:30 .*for 1 h 30 min.*all monitors/s);
  const windows = await api(page, '/api/monitors/windows');
  assert.equal(windows.length, 2);

  // The monitor's page lists both (its own and the global one); one is deleted there.
  await page.click(`${row('web guest agent')} a.name`);
  await page.waitForSelector(`[data-testid="monitor-detail"][data-id="${id}"]`, WAIT);
  const here = page.locator('[data-testid="windows"] [data-testid="window"]');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="windows"] [data-testid="window"]').length === 2, null, WAIT);
  const mineHere = here.filter({ hasText: 'e2e: disk swap' });
  await mineHere.locator('[data-testid="window-delete"]').click();
  await mineHere.locator('[data-testid="window-delete-confirm"]').click();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="windows"] [data-testid="window"]').length === 1, null, WAIT);
  assert.equal((await api(page, '/api/monitors/windows')).length, 1);
  await here.first().locator('[data-testid="window-delete"]').click();
  await here.first().locator('[data-testid="window-delete-confirm"]').click();
  await page.waitForSelector('[data-testid="windows"] [data-testid="windows-empty"]', WAIT);
  assert.deepEqual(await api(page, '/api/monitors/windows'), []);
  assert.deepEqual(errors, []);
  await page.close();
});

test('suggestions list the ping monitors of the guests with a known address; adding one works', async () => {
  const { page, errors } = await open(DESKTOP, '/services', '[data-testid="suggestion"]');
  const want = await api(page, '/api/monitors/suggestions');
  assert.ok(want.length >= 3, `${want.length} suggestions`);
  const shown = page.locator('[data-testid="suggestion"]');
  assert.equal(await shown.count(), want.length);
  assert.equal(await page.locator('[data-testid="suggestion"][data-kind="ping"]').count(), want.length, 'all pings');
  const text = (await page.textContent('[data-testid="suggestions"]')) ?? '';
  for (const s of want) assert.ok(text.includes(s.spec.name) && text.includes(s.guest), `${s.spec.name} for ${s.guest}`);
  // The ones that exist say so and cannot be added again.
  const exists = page.locator('[data-testid="suggestion"][data-exists="true"]');
  assert.equal(await exists.count(), want.filter((s) => s.exists).length);
  assert.ok((await exists.count()) >= 2, 'web ping and pihole ping exist');
  assert.equal(await exists.first().locator('[data-testid="suggestion-add"]').isDisabled(), true);
  assert.equal((await exists.first().locator('[data-testid="suggestion-add"]').textContent())?.trim(), 'exists');

  const before = await page.locator('[data-testid="monitor-row"]').count();
  const first = want.find((s) => !s.exists);
  const sug = page.locator('[data-testid="suggestion"]').filter({ has: page.locator('.name', { hasText: first.spec.name }) });
  await sug.locator('[data-testid="suggestion-add"]').click();
  await page.waitForSelector(row(first.spec.name), WAIT);
  assert.equal(await page.locator('[data-testid="monitor-row"]').count(), before + 1);
  assert.equal(await sug.getAttribute('data-exists'), 'true');
  assert.equal((await sug.locator('[data-testid="suggestion-add"]').textContent())?.trim(), 'exists');
  assert.deepEqual(errors, []);
  await page.close();
});

test('the guest page of VM 101 lists its two monitors with heartbeat and 24 h uptime', async () => {
  const { page, errors } = await open(DESKTOP, '/vms/101', '[data-testid="guest-services"] [data-testid="monitor-row"]');
  const rows = page.locator('[data-testid="guest-services"] [data-testid="monitor-row"]');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="guest-services"] [data-testid="monitor-row"]').length >= 2, null, WAIT);
  const api101 = await api(page, '/api/monitors?vmid=101');
  assert.equal(await rows.count(), api101.monitors.length);
  const names = await rows.evaluateAll((rs) => rs.map((r) => r.getAttribute('data-name')));
  for (const n of ['web ping', 'web guest agent']) assert.ok(names.includes(n), `${n} in ${names}`);
  for (const m of api101.monitors) {
    const r = page.locator(`[data-testid="guest-services"] ${row(m.spec.name)}`);
    assert.ok((await r.locator('[data-testid="beat"]').count()) > 0, `${m.spec.name}: heartbeat`);
    assert.match((await r.locator('[data-testid="uptime-24h"]').textContent()) ?? '', /\d %/);
    assert.equal(await r.locator('a.name').getAttribute('href'), `/services/${m.id}`);
  }
  // A guest without monitors has no section (the admin gets a link to add one).
  await page.goto(new URL('/vms/102', demo.server.url).href);
  await page.waitForSelector('[data-testid="guest-config"]', WAIT);
  await page.waitForSelector('[data-testid="guest-services-none"]', WAIT);
  assert.equal(await page.locator('[data-testid="guest-services"]').count(), 0);
  assert.deepEqual(errors, []);
  await page.close();
});

test('at 375 px the Services page and a monitor page do not scroll sideways', async () => {
  const { page, errors } = await open(PHONE, '/services', '[data-testid="monitor-row"]');
  const width = () => page.evaluate(() => document.scrollingElement?.scrollWidth ?? 0);
  await page.waitForSelector('[data-testid="suggestion"]', WAIT);
  await page.waitForTimeout(500);
  assert.ok((await width()) <= 375, `/services is ${await width()}px wide`);
  // Every row's heartbeat fits the screen with all its blocks.
  const beats = await page.$$eval('[data-testid="heartbeat"]', (hs) => hs.map((h) => [h.getBoundingClientRect().right, h.children.length]));
  for (const [right] of beats) assert.ok(right <= 375, `a heartbeat ends at ${right}px`);
  await page.screenshot({ path: `${SHOTS}/services-phone.png`, fullPage: true });
  await page.click(`${row('web ping')} a.name`);
  await page.waitForSelector('[data-testid="monitor-detail"]', WAIT);
  await page.waitForSelector('[data-testid="chart-latency"][data-state="ready"]', WAIT);
  await page.waitForTimeout(500);
  assert.ok((await width()) <= 375, `the monitor page is ${await width()}px wide`);
  await page.screenshot({ path: `${SHOTS}/services-monitor-phone.png`, fullPage: true });
  assert.deepEqual(errors, []);
  await page.close();
});
