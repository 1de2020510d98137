// Shared plumbing of the demo-based browser tests (not a test file itself:
// `node --test` only picks up *.test.mjs). Run from the repository root.
// Needs a built binary (PROXWATCH_BIN, default target/debug/proxwatch) and a
// system Chromium (CHROMIUM, default /usr/bin/chromium); no browser download.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';
import { after, before } from 'node:test';

export const BIN = process.env.PROXWATCH_BIN || 'target/debug/proxwatch';
export const SHOTS = 'target/screenshots';
const READY = /proxwatch demo listening on (http:\/\/127\.0\.0\.1:\d+\/)/;
const START_TIMEOUT_MS = 60_000;

/**
 * The terminal's shell for tests that use `--terminal`: bash without the profile and rc files of
 * whoever runs the tests, so what the shell prints (and how long it takes to start) is not up to
 * their dotfiles (a `pyenv rehash` in ~/.bashrc, say, can hold the prompt back for a minute).
 */
export const PLAIN_SHELL = { PROXWATCH_TERMINAL_COMMAND: '["/bin/bash", "--noprofile", "--norc", "-i"]', PS1: '$ ' };

/**
 * Spawns `proxwatch demo --port 0 ...args` with `env` added to the environment; resolves with
 * `{ child, url, stop }` once it prints its URL on stdout.
 */
export function startDemo(args = [], env = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, ['demo', '--port', '0', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    let stderr = '';
    const stop = () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.removeAllListeners('exit');
        child.kill('SIGTERM');
      }
    };
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`${BIN} did not print "proxwatch demo listening on ..." within ${START_TIMEOUT_MS / 1000} s; stderr:\n${stderr}`));
    }, START_TIMEOUT_MS);
    child.stderr.on('data', (d) => {
      stderr = (stderr + d).slice(-4000);
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`could not start ${BIN}: ${e.message}`));
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${BIN} exited early (code ${code}, signal ${signal}); stderr:\n${stderr}`));
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = READY.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1], stop });
      }
    });
  });
}

/** Headless system Chromium; also makes sure the screenshot folder exists. */
export async function launchBrowser() {
  mkdirSync(SHOTS, { recursive: true });
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Logs in through the login page with the demo account the status offers. */
export async function demoLogin(page) {
  await page.waitForSelector('[data-testid="page-login"]');
  const hint = await page.textContent('[data-testid="demo-login"]');
  assert.match(hint ?? '', /Demo login: demo \/ demo/);
  await page.fill('[data-testid="login-username"]', 'demo');
  await page.fill('[data-testid="login-password"]', 'demo');
  await page.click('[data-testid="login-submit"]');
}

/** Waits until chart-<name>'s data-points exceeds `than`; returns the new value. */
export async function pointsAbove(page, name, than, timeout = 20_000) {
  const sel = `[data-testid="chart-${name}"]`;
  await page.waitForFunction(
    ([s, n]) => Number(document.querySelector(s)?.getAttribute('data-points') ?? -1) > n,
    [sel, than],
    { timeout },
  );
  return Number(await page.getAttribute(sel, 'data-points'));
}

export const DESKTOP = { viewport: { width: 1280, height: 900 } };
export const PHONE = { viewport: { width: 375, height: 812 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };

/**
 * One demo and one browser for the calling test file, started and stopped by node:test's `before`
 * and `after` hooks. `open(opts, path, ready?)` gives a page logged in at `path` (the gate sends the
 * browser back there), waiting for the `ready` selector if given, and the page's uncaught errors.
 */
export function demoSuite(args = [], env = {}) {
  const suite = { server: null, browser: null };
  before(async () => {
    suite.server = await startDemo(args, env);
    suite.browser = await launchBrowser();
  });
  after(async () => {
    await suite.browser?.close();
    suite.server?.stop();
  });
  suite.open = async (opts, path, ready = null, timeout = 20_000) => {
    const page = await suite.browser.newPage(opts);
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(new URL(path, suite.server.url).href);
    await demoLogin(page);
    if (ready) await page.waitForSelector(ready, { timeout });
    return { page, errors };
  };
  return suite;
}

/** On the Health page: waits for the first full cycle, expands Disks and opens the Dismiss menu of its
 * first active finding. Returns the finding's locator. */
export async function openFirstDismiss(page, wait = { timeout: 15_000 }) {
  await page.waitForFunction(
    () => !['', 'pending'].includes(document.querySelector('[data-testid="health-status"]')?.textContent?.trim() ?? ''),
    null,
    { timeout: 45_000 },
  );
  await page.click('[data-testid="cat-disks"] .cat-head');
  const finding = page.locator('[data-testid="cat-disks"] [data-testid^="finding-"][data-state="active"]').first();
  await finding.waitFor(wait);
  await finding.locator('button', { hasText: 'Dismiss…' }).click();
  return finding;
}
