// Makes the README's screenshot (docs/screenshot.png): the Overview of the demo at 1280 x 900 (the
// attention strip, the summary cards and the vitals) after the live charts have a minute of data. Not a test; run from the repository root after `cargo build`:
//   node web/tests/e2e/screenshot.mjs
import { startDemo, launchBrowser, demoLogin, DESKTOP, pointsAbove } from './harness.mjs';

const server = await startDemo();
const browser = await launchBrowser();
try {
  const page = await browser.newPage(DESKTOP);
  await page.goto(server.url);
  await demoLogin(page);
  await page.waitForSelector('[data-testid="attention-item"]', { timeout: 30_000 });
  await page.waitForSelector('[data-testid="chart-cpu"]', { timeout: 20_000 });
  await pointsAbove(page, 'cpu', 40, 90_000);
  await page.screenshot({ path: 'docs/screenshot.png' });
  console.log('wrote docs/screenshot.png');
} finally {
  await browser.close();
  server.stop();
}
