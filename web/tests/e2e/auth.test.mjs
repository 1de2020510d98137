// Browser test of first-run setup, login with two-factor, API tokens and
// logout against a fresh `proxwatch serve` (this machine's /proc, no Proxmox).
// Run from the repository root:  node --test web/tests/e2e/
// Needs a built binary (PROXWATCH_BIN, default target/debug/proxwatch) and a
// system Chromium (CHROMIUM, default /usr/bin/chromium); no browser download.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { BIN, SHOTS, launchBrowser } from './harness.mjs';

const READY = /proxwatch listening addr=(\S+)/;
const START_TIMEOUT_MS = 60_000;
const ADMIN = 'admin';
const PASSWORD = 'violet-harbour-lantern-42';

let child;
let tmp;
let base;
let browser;

/** Spawn `proxwatch serve --port 0` on a fresh data dir; resolve with its URL from the log on stderr. */
function startServer() {
  tmp = mkdtempSync(join(tmpdir(), 'proxwatch-e2e-auth-'));
  return new Promise((resolve, reject) => {
    child = spawn(BIN, ['serve', '--bind', '127.0.0.1', '--port', '0', '--data-dir', join(tmp, 'data')], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, PROXWATCH_AUTH_AUTH_LOG: join(tmp, 'auth.log'), PROXWATCH_LOG: 'info', NO_COLOR: '1' },
    });
    let stderr = '';
    const timer = setTimeout(() => {
      reject(new Error(`${BIN} did not log "proxwatch listening addr=..." within ${START_TIMEOUT_MS / 1000} s; stderr:\n${stderr}`));
    }, START_TIMEOUT_MS);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`could not start ${BIN}: ${e.message}`));
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${BIN} exited early (code ${code}, signal ${signal}); stderr:\n${stderr}`));
    });
    const lines = createInterface({ input: child.stderr });
    lines.on('line', (line) => {
      stderr = (stderr + line + '\n').slice(-4000);
      // Strip any ANSI colour codes before matching.
      const m = READY.exec(line.replace(/\x1b\[[0-9;]*m/g, ''));
      if (m) {
        clearTimeout(timer);
        resolve(`http://${m[1]}/`);
      }
    });
  });
}

/** The setup code: written to <data-dir>/setup-code right after the listening line. */
async function setupCode() {
  const file = join(tmp, 'data', 'setup-code');
  for (let i = 0; i < 100 && !existsSync(file); i++) await sleep(100);
  return readFileSync(file, 'utf8').trim();
}

// RFC 4648 base32 (no padding needed) and RFC 6238 TOTP: SHA-1, 30 s, 6 digits.
function base32decode(s) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out = [];
  for (const ch of s.toUpperCase().replace(/[=\s]/g, '')) {
    const i = alphabet.indexOf(ch);
    if (i < 0) throw new Error(`not base32: ${ch}`);
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

function totpAt(secret, step) {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(step));
  const h = createHmac('sha1', base32decode(secret)).update(msg).digest();
  const off = h[h.length - 1] & 0x0f;
  const n = ((h[off] & 0x7f) << 24) | (h[off + 1] << 16) | (h[off + 2] << 8) | h[off + 3];
  return String(n % 1_000_000).padStart(6, '0');
}

const stepNow = () => Math.floor(Date.now() / 1000 / 30);

/**
 * A code for a step after `used` (the server refuses a step twice). Waiting
 * here is for the clock, not for readiness: at most one 30 s step.
 */
async function freshCode(secret, used) {
  const wait = (used + 1) * 30_000 - Date.now();
  if (wait > 0) {
    assert.ok(wait <= 31_000, `would wait ${wait} ms for the next TOTP step`);
    await sleep(wait + 250);
  }
  const step = stepNow();
  return { code: totpAt(secret, step), step };
}

before(async () => {
  base = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  if (child && child.exitCode === null) {
    child.removeAllListeners('exit');
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const api = (path, init = {}) => fetch(new URL(path, base), init);

async function login(page, user, password) {
  await page.waitForSelector('[data-testid="page-login"]');
  await page.fill('[data-testid="login-username"]', user);
  await page.fill('[data-testid="login-password"]', password);
  await page.click('[data-testid="login-submit"]');
}

// The steps depend on each other (one appliance, set up once), so they share state.
const state = { secret: '', usedStep: 0, backup: [] };

test('setup wizard, login, two-factor, API token, logout', { timeout: 180_000 }, async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));

  // Before setup every protected route says so.
  const pre = await api('/api/system');
  assert.equal(pre.status, 403);
  assert.equal((await pre.json()).error, 'setup_required');

  // --- Setup wizard: a wrong code is refused with a message, the right one creates the admin.
  await page.goto(base);
  await page.waitForSelector('[data-testid="page-setup"]');
  assert.equal(new URL(page.url()).pathname, '/setup');
  assert.match(await page.textContent('[data-testid="page-setup"]') ?? '', /setup-code/);
  await page.fill('[data-testid="setup-code"]', 'AAAA-BBBB-CCCC-DDDD');
  await page.fill('[data-testid="setup-username"]', ADMIN);
  await page.fill('[data-testid="setup-password"]', PASSWORD);
  await page.fill('[data-testid="setup-password2"]', PASSWORD);
  await page.click('[data-testid="setup-submit"]');
  await page.waitForSelector('[data-testid="setup-error"]');
  assert.match(await page.textContent('[data-testid="setup-error"]') ?? '', /setup code/i);
  await page.fill('[data-testid="setup-code"]', await setupCode());
  await page.click('[data-testid="setup-submit"]');

  // --- Login (the user name is carried over from the wizard).
  await page.waitForSelector('[data-testid="page-login"]');
  assert.match(await page.textContent('[data-testid="login-notice"]') ?? '', /created/);
  assert.equal(await page.inputValue('[data-testid="login-username"]'), ADMIN);
  await page.fill('[data-testid="login-password"]', 'not-the-password-1');
  await page.click('[data-testid="login-submit"]');
  await page.waitForSelector('[data-testid="login-error"]');
  await login(page, ADMIN, PASSWORD);
  await page.waitForSelector('[data-testid="page-overview"]');
  assert.equal(await page.textContent('[data-testid="user-role"]'), 'admin');

  // --- Security: enable two-factor.
  await page.click('nav[aria-label="Main"] a[href="/security"]');
  await page.waitForSelector('[data-testid="page-security"]');
  await page.waitForSelector('[data-testid="users"] [data-testid="user-row"][data-name="admin"]');
  await page.click('[data-testid="totp-enable"]');
  await page.fill('[data-testid="totp-password"]', PASSWORD);
  await page.click('[data-testid="totp-start"]');
  await page.waitForSelector('[data-testid="totp-secret"]');
  assert.match((await page.getAttribute('[data-testid="totp-qr"]', 'src')) ?? '', /^data:image\/svg\+xml;base64,/);
  const uri = (await page.getAttribute('[data-testid="totp-secret"]', 'data-uri')) ?? '';
  assert.match(uri, /^otpauth:\/\/totp\//);
  state.secret = new URL(uri).searchParams.get('secret') ?? '';
  assert.equal(await page.getAttribute('[data-testid="totp-secret"]', 'data-secret'), state.secret);
  assert.equal((await page.textContent('[data-testid="totp-secret"]'))?.replace(/\s/g, ''), state.secret);
  state.usedStep = stepNow();
  await page.fill('[data-testid="totp-code"]', totpAt(state.secret, state.usedStep));
  await page.click('[data-testid="totp-confirm"]');
  await page.waitForSelector('[data-testid="backup-codes"]');
  state.backup = await page.$$eval('[data-testid="backup-codes"] code', (els) => els.map((e) => e.textContent ?? ''));
  assert.equal(state.backup.length, 10);
  for (const c of state.backup) assert.match(c, /^[a-z0-9]{5}-[a-z0-9]{5}$/);
  await page.click('[data-testid="backup-done"]');
  await page.waitForSelector('[data-testid="totp"][data-enabled="true"]');

  // --- Log out, log in again: now the code is asked for.
  await page.click('[data-testid="logout"]');
  await page.waitForSelector('[data-testid="page-login"]');
  await login(page, ADMIN, PASSWORD);
  await page.waitForSelector('[data-testid="login-totp"]');
  const fresh = await freshCode(state.secret, state.usedStep);
  state.usedStep = fresh.step;
  await page.fill('[data-testid="login-totp"]', fresh.code);
  await page.click('[data-testid="login-submit"]');
  // Back where we were.
  await page.waitForSelector('[data-testid="page-security"]');
  assert.equal(new URL(page.url()).pathname, '/security');

  // --- An API token with scope read (re-authenticated with the password and a backup code).
  await page.click('[data-testid="token-new"]');
  await page.fill('[data-testid="token-name"]', 'ci-read');
  await page.selectOption('[data-testid="token-scope"]', 'read');
  await page.selectOption('[data-testid="token-expiry"]', '30');
  await page.fill('[data-testid="token-description"]', 'CI scraper');
  // Limited to loopback, where this test's requests come from.
  await page.fill('[data-testid="token-allowed"]', '127.0.0.0/8, ::1');
  await page.fill('[data-testid="token-password"]', PASSWORD);
  await page.fill('[data-testid="token-totp"]', state.backup.shift());
  await page.click('[data-testid="token-create"]');
  await page.waitForSelector('[data-testid="token-value"]');
  const token = (await page.textContent('[data-testid="token-value"]'))?.trim() ?? '';
  assert.ok(token.length > 20, `token looks like a token: ${token.slice(0, 8)}…`);
  await page.waitForSelector('[data-testid="token-row"][data-name="ci-read"]');
  const row = page.locator('[data-testid="token-row"][data-name="ci-read"]');
  assert.equal((await row.locator('[data-testid="token-description-text"]').textContent())?.trim(), 'CI scraper');
  assert.equal((await row.locator('[data-testid="token-allowed-text"]').textContent())?.trim(), 'only from 127.0.0.0/8, ::1/128');

  const bearer = { Authorization: `Bearer ${token}` };
  assert.equal((await api('/api/system', { headers: bearer })).status, 200);
  const escalate = await api('/api/auth/users', {
    method: 'POST',
    headers: { ...bearer, 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: 'mallory', password: 'some-long-password-9', role: 'admin' }),
  });
  assert.equal(escalate.status, 403);
  assert.equal((await escalate.json()).error, 'forbidden');

  // The auth events show what happened, failures highlighted.
  await page.click('[data-testid="events"] button:has-text("Refresh")');
  await page.waitForSelector('[data-testid="event-row"][data-kind="token_created"]');
  await page.waitForSelector('[data-testid="event-row"][data-kind="login_failed"].fail');
  await page.waitForSelector('[data-testid="session-row"][data-current="true"]');
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: `${SHOTS}/security-desktop.png`, fullPage: true });

  // --- Revoke the token in the UI: the same call is now refused.
  await page.click('[data-testid="token-done"]');
  await page.click('[data-testid="token-row"][data-name="ci-read"] [data-testid="token-revoke"]');
  await page.click('[data-testid="token-row"][data-name="ci-read"] [data-testid="token-revoke-confirm"]');
  await page.waitForSelector('[data-testid="token-row"][data-name="ci-read"]', { state: 'detached' });
  assert.equal((await api('/api/system', { headers: bearer })).status, 401);

  // --- Log out: the overview sends us to the login page.
  await page.click('[data-testid="logout"]');
  await page.waitForSelector('[data-testid="page-login"]');
  await page.goto(base);
  await page.waitForSelector('[data-testid="page-login"]');
  assert.equal(new URL(page.url()).pathname, '/login');
  assert.equal(await page.$('[data-testid="demo-login"]'), null, 'no demo hint outside the demo');
  assert.equal((await api('/api/system')).status, 401);

  assert.deepEqual(errors, [], 'no uncaught page errors');
  await page.close();

  const log = join(tmp, 'auth.log');
  assert.ok(existsSync(log) && statSync(log).size > 0, 'the auth log for fail2ban was written');
});

test('login and Security pages fit a 375 px phone', { timeout: 60_000 }, async () => {
  assert.ok(state.backup.length > 0, 'runs after the setup test');
  const page = await browser.newPage({ viewport: { width: 375, height: 812 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  await page.goto(new URL('/security', base).href);
  await page.waitForSelector('[data-testid="page-login"]');
  assert.equal(new URL(page.url()).searchParams.get('next'), '/security');
  await page.screenshot({ path: `${SHOTS}/login-phone.png`, fullPage: true });
  assert.ok((await page.evaluate(() => document.documentElement.scrollWidth)) <= 375, 'login page fits');

  await login(page, ADMIN, PASSWORD);
  await page.waitForSelector('[data-testid="login-totp"]');
  await page.fill('[data-testid="login-totp"]', state.backup.shift());
  await page.click('[data-testid="login-submit"]');
  await page.waitForSelector('[data-testid="page-security"]');
  await page.waitForSelector('[data-testid="event-row"]');
  await page.waitForSelector('[data-testid="user-row"]');
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 375, `security page is ${width}px wide at a 375px viewport`);
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: `${SHOTS}/security-phone.png`, fullPage: true });
  await page.close();
});
