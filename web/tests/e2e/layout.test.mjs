// Layout test: at 1280, 1440 and 375 px walks EVERY page of `proxwatch demo` (the Health page with a
// dismiss popover open) and checks that nothing runs past the right edge of the window, that every
// page is as wide as the Overview (none boxed narrower than the rest), that a few known trouble
// spots are not cut off or run together, and that no page logs a console error or throws.
// Run from the repository root (after `cargo build`):  node --test web/tests/e2e/layout.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { demoSuite, demoLogin, SHOTS, openFirstDismiss } from './harness.mjs';

const WAIT = { timeout: 20_000 };

const demo = demoSuite();

/** [path, selector that says the page has its data]. */
const PAGES = [
  ['/', '[data-testid="processes"] tbody tr'],
  ['/vms', '[data-testid^="guest-row-"]'],
  ['/vms/101', '[data-testid="guest-config"]'],
  ['/services', '[data-testid="suggestion"]'],
  ['/services/2', '[data-testid="chart-latency"][data-state="ready"]'],
  ['/storage', '[data-testid^="disk-card-"]'],
  ['/storage/disks/sde', '[data-testid="selftests"]'],
  ['/network', '[data-testid="group-physical"] [data-testid="iface-eno1"]'],
  ['/hardware', '[data-testid="memory-row"]'],
  ['/logs', '[data-testid="page-logs"]'],
  ['/health', '[data-testid="cat-disks"]'],
  ['/terminal', '[data-testid="terminal-disabled"]'],
  ['/security', '[data-testid="session-row"]'],
  ['/settings', '[data-testid="notify-channels"]'],
  ['/settings?tab=routing', '[data-testid="routing-matrix"]'],
  ['/settings?tab=history', '[data-testid="notify-history"]'],
  ['/settings?tab=integrations', '[data-testid="pve-public-cfg"]'],
];

/**
 * Elements whose right edge is past the window, leaving out those inside a container that clips or
 * scrolls them (a table in an overflow-x:auto box, an ellipsised cell) and invisible ones.
 */
function overflowing() {
  const W = window.innerWidth;
  const clipped = (el) => {
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      if (getComputedStyle(a).overflowX !== 'visible') return true;
    }
    return false;
  };
  const out = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || r.right <= W + 0.5) continue;
    const s = getComputedStyle(el);
    if (s.visibility === 'hidden' || s.display === 'none' || clipped(el)) continue;
    const id = el.getAttribute('data-testid');
    out.push(`${el.tagName.toLowerCase()}${id ? `[data-testid=${id}]` : ''}.${[...el.classList].join('.')} right=${Math.round(r.right)}`);
  }
  return { scrollWidth: document.scrollingElement?.scrollWidth ?? 0, width: W, out };
}

async function go(page, path) {
  // Through the app's router (as a click on a link does), without reloading the page.
  await page.evaluate((p) => {
    history.pushState(null, '', p);
    dispatchEvent(new PopStateEvent('popstate'));
  }, path);
}

async function check(page, what) {
  const r = await page.evaluate(overflowing);
  assert.ok(r.scrollWidth <= r.width, `${what}: the document is ${r.scrollWidth}px wide in a ${r.width}px window`);
  assert.deepEqual(r.out, [], `${what}: elements past the right edge`);
}

/** The width of the page's own root element (the main column's content). */
const pageWidth = (page) =>
  page.evaluate(() => document.querySelector('main [data-testid^="page-"]')?.getBoundingClientRect().width ?? 0);

for (const width of [1280, 1440, 375]) {
  test(`layout at ${width} px: every page fits, none narrower than the rest, no console errors`, async () => {
    const phone = width < 500;
    const page = await demo.browser.newPage(
      phone
        ? { viewport: { width, height: 812 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true }
        : { viewport: { width, height: 900 } },
    );
    const errors = [];
    page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`console: ${m.text()}`);
    });
    await page.goto(demo.server.url);
    await demoLogin(page);
    await page.waitForSelector('[data-testid="page-overview"]', WAIT);
    let overviewWidth = 0;

    for (const [path, ready] of PAGES) {
      const what = `${path} at ${width} px`;
      await go(page, path);
      await page.waitForSelector(ready, WAIT);
      // Let late sections (charts, polled tables) arrive.
      await page.waitForTimeout(1200);
      await check(page, what);

      const w = await pageWidth(page);
      if (path === '/') overviewWidth = w;
      else assert.ok(Math.abs(w - overviewWidth) <= 1, `${what}: the page is ${w}px wide, the Overview ${overviewWidth}px`);

      if (path === '/') {
        // Tile values are never cut off (the pressure tile's three values).
        const cut = await page.$$eval('.tiles .t-value', (els) =>
          els.filter((e) => e.scrollWidth > e.clientWidth + 1).map((e) => e.textContent?.trim()),
        );
        assert.deepEqual(cut, [], `${what}: tile values cut off`);
      }
      if (path === '/hardware') {
        // A module's slot and bank (and type and its details) are separate lines, not one word.
        const slot = await page.locator('[data-testid="memory-row"] td[data-label="Slot"]').first().innerText();
        assert.match(slot, /\S\s+\S/, `${what}: memory slot cell "${slot}" runs together`);
        const type = await page.locator('[data-testid="memory-row"] td[data-label="Type"]').first().innerText();
        assert.doesNotMatch(type, /DIMM[A-Z]/, `${what}: memory type cell "${type}" runs together`);
      }
      if (path === '/health') {
        // Open a dismiss popover on the disks category's first active finding; it stays on screen.
        const finding = await openFirstDismiss(page, WAIT);
        const menu = finding.locator('[role="menu"]');
        await menu.waitFor(WAIT);
        const box = await menu.boundingBox();
        assert.ok(box && box.x >= 0 && box.x + box.width <= width, `${what}: the dismiss menu is at ${JSON.stringify(box)}`);
        await check(page, `${what} with the dismiss menu open`);
        await page.screenshot({ path: `${SHOTS}/layout-health-menu-${width}.png` });
        await finding.locator('button', { hasText: 'Dismiss…' }).click();
      }
    }
    assert.deepEqual(errors, [], `no console errors or page errors at ${width} px`);
    await page.close();
  });
}
