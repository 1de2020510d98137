// Browser test of the Terminal page at phone size against `proxwatch demo --terminal`
// (a real bash on a PTY of this machine, as the user running the test, without their dotfiles).
// Run from the repository root:  node --test web/tests/e2e/

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PLAIN_SHELL, SHOTS, demoLogin, launchBrowser, startDemo } from './harness.mjs';

const WAIT = { timeout: 15_000 };
const TAB = '[data-testid="term-tab"]';
const SCREEN = '.term:not([hidden]) .xterm-rows';

let server;
let browser;

before(async () => {
  server = await startDemo(['--terminal'], PLAIN_SHELL);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  server?.stop();
});

/** Waits until the visible terminal's screen (xterm's DOM rows) contains `text` or matches a RegExp. */
async function screenHas(page, text) {
  const pattern = text instanceof RegExp ? { source: text.source, flags: text.flags } : null;
  try {
    await page.waitForFunction(
      ([sel, t, p]) => {
        const rows = document.querySelector(sel);
        if (!rows) return false;
        const screen = [...rows.children].map((r) => (r.textContent ?? '').replace(/\u00a0/g, ' ')).join('\n');
        return p ? new RegExp(p.source, p.flags).test(screen) : screen.includes(t);
      },
      [SCREEN, text instanceof RegExp ? null : text, pattern],
      WAIT,
    );
  } catch (e) {
    throw new Error(`the terminal never showed ${text}; screen:\n${await screen(page)}\n(${e.message})`);
  }
}

/** The visible terminal's screen as text, one line per row. */
function screen(page) {
  return page.$eval(SCREEN, (rows) =>
    [...rows.children].map((r) => (r.textContent ?? '').replace(/\u00a0/g, ' ').trimEnd()).join('\n'),
  );
}

async function run(page, line) {
  await page.keyboard.type(line);
  await page.keyboard.press('Enter');
}

test('terminal at phone size: type, key bar Ctrl+C, stty size matches the fitted size, exit code', async () => {
  const page = await browser.newPage({ viewport: { width: 375, height: 812 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(new URL('terminal', server.url).href);
  await demoLogin(page);
  await page.waitForSelector('[data-testid="page-terminal"]');
  assert.equal(new URL(page.url()).pathname, '/terminal');

  // The session is up and xterm has rendered its rows; the key bar shows on a phone.
  await page.waitForSelector(`${TAB}[data-state="open"]`, WAIT);
  await page.waitForSelector(SCREEN, WAIT);
  await page.waitForSelector('[data-testid="keybar"]');
  // The shell has started (its prompt is on screen) before we type.
  await screenHas(page, /\S/);
  await page.focus('.term:not([hidden]) textarea.xterm-helper-textarea');

  // Typed input reaches the shell; only the shell's arithmetic makes "hi-42".
  await run(page, 'echo hi-$((40+2))');
  await screenHas(page, 'hi-42');

  // The key bar's sticky Ctrl turns the next key into a control character: ^C ends `cat`.
  await run(page, 'cat');
  await page.click('[data-testid="key-ctrl"]');
  assert.equal(await page.getAttribute('[data-testid="key-ctrl"]', 'aria-pressed'), 'true');
  await page.keyboard.press('c');
  await page.waitForSelector('[data-testid="key-ctrl"][aria-pressed="false"]');
  await screenHas(page, '^C');
  // Were `cat` still running it would echo the line back, never print "after-2".
  await run(page, 'echo after-$((1+1))');
  await screenHas(page, 'after-2');

  // The shell's idea of the size is the fitted size the page reports.
  await run(page, 'stty size');
  await screenHas(page, /^\d+ \d+\s*$/m);
  const [, rows, cols] = /^(\d+) (\d+)\s*$/m.exec(await screen(page)) ?? [];
  const tab = await page.$eval(TAB, (t) => ({ cols: t.getAttribute('data-cols'), rows: t.getAttribute('data-rows') }));
  assert.deepEqual({ rows, cols }, tab, 'stty size (rows cols) matches the terminal page');
  assert.ok(Number(cols) >= 30 && Number(cols) <= 60, `${cols} columns at 375 px`);
  assert.ok(Number(rows) >= 10, `${rows} rows`);

  // Leaving the shell with a status says so.
  await run(page, 'exit 3');
  await page.waitForSelector(`${TAB}[data-state="closed"]`, WAIT);
  assert.match((await page.textContent('[data-testid="term-reason"]')) ?? '', /exited with code 3/);
  await page.waitForSelector('[data-testid="term-reconnect"]');

  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 375, `page is ${width}px wide at a 375px viewport`);
  await page.screenshot({ path: `${SHOTS}/terminal-phone.png` });
  assert.deepEqual(errors, [], 'no uncaught page errors');
  await page.close();
});
