// Makes docs/sessions-page.png, the README's picture of the sessions page: runs
// the built collector as `npm start` does (on a throwaway database), drives the
// examples in Chromium in real time (two visitors; one lands from a campaign on
// the site, then uses the SPA in a second tab and logs in), then photographs the
// sessions page with that visit picked.
// Usage: npm run build && node scripts/screenshot.mjs
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from '@playwright/test';
import { CHROMIUM_ARGS, executablePath } from '../e2e/support/chromium.mjs';
import { flushTrackers, trackerIds } from 'sessionbeacon/testing';
import { startServe } from '../test/support/processes.mjs';

const dir = mkdtempSync(join(tmpdir(), 'sb-screenshot-'));
const token = 'screenshot';
const server = await startServe(['--data', dir, '--token', token, '--static', '/examples/=examples', '--static', '/dist/=dist', '--quiet']);
const origin = server.url;
const browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS });
const pause = (ms) => new Promise((done) => setTimeout(done, ms));
try {
  // Visitor 1: lands on the site from a newsletter, reads, goes to the prices, signs up; then opens the shop (SPA) in a second tab and logs in.
  const visitor = await browser.newContext({ viewport: { width: 1200, height: 800 } });
  const page = await visitor.newPage();
  await page.goto(`${origin}/examples/site/index.html?utm_source=newsletter&utm_medium=email&utm_campaign=winter`);
  for (let i = 0; i < 6; i++) await page.mouse.move(100 + i * 40, 200, { steps: 5 }), await pause(400);
  await page.click('#pricing-link');
  for (let i = 0; i < 4; i++) await page.mouse.wheel(0, 100), await pause(400);
  await page.click('#signup');
  const tab2 = await visitor.newPage();
  await tab2.goto(`${origin}/examples/spa/`);
  for (let i = 0; i < 3; i++) await tab2.mouse.move(300, 100 + i * 50), await pause(400);
  await tab2.click('#add');
  await tab2.click('nav >> text=Cart');
  await pause(800);
  await tab2.click('nav >> text=Account');
  await tab2.click('#login button');
  await pause(600);
  await page.bringToFront();
  await page.click('nav >> text=About');
  await pause(1200);
  await Promise.all([flushTrackers(page), flushTrackers(tab2)]);
  await tab2.close({ runBeforeUnload: true });
  // Visitor 2: a direct visit, one page.
  const other = await browser.newContext();
  const solo = await other.newPage();
  await solo.goto(`${origin}/examples/site/`);
  await solo.mouse.move(50, 50), await pause(800), await flushTrackers(solo);
  await pause(1500);

  const { visitId } = await trackerIds(page);
  const view = await browser.newPage({ viewport: { width: 1440, height: 740 } });
  await view.goto(`${origin}/#token=${token}&visit=${visitId}`);
  await view.locator('.visit .page-bar').first().waitFor();
  await view.screenshot({ path: 'docs/sessions-page.png' });
  console.log('wrote docs/sessions-page.png');
} finally {
  await browser.close();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
