// Whole journeys: the built script in a real Chromium, the built collector
// (`sessionbeacon serve`, PGlite) and its database, asserting the atomic.session
// rows themselves (read through GET /sessions). Time is Playwright's fake clock
// where a journey needs minutes; nothing sleeps. The back/forward cache journey
// is in bfcache.spec.ts (it needs the cache, which Playwright turns off).
import type { Page } from '@playwright/test';
import { flushTrackers, hidePage, trackerIds, type TrackerIds } from 'sessionbeacon/testing';
import { call, expect, test } from './fixtures';
import { EXAMPLES_PROJECT_ID } from './support/collector';
import { rowsWhen, type Row } from './support/rows';

const idsOf = (page: Page) => trackerIds(page) as Promise<Required<TrackerIds>>;
const MIN = 60_000;

test('two tabs in one visit: two session rows, one visitId, each page once', async ({ context, page, collector }) => {
  await context.clock.install();
  await page.goto(collector.url('/pages/basic.html?utm_source=newsletter&utm_campaign=launch'));
  const first = await idsOf(page);
  await flushTrackers(page); // (see below)
  await context.clock.runFor(3000);
  await page.click('#button');
  await page.click('#other'); // a second page in the first tab
  await expect(page).toHaveTitle('Other page');
  // Sent before the fake clock runs on: an event that waits in the queue while
  // runFor() moves the page's clock, and real time does not, gets a derived time
  // (receivedAt - (sentAt - ts), model.md rule 2) seconds earlier than it was, here
  // before the first page's. A real clock runs at the rate of the collector's.
  await flushTrackers(page);
  const tab2 = await context.newPage();
  await tab2.goto(collector.url('/pages/basic.html'));
  await context.clock.runFor(2000);
  await Promise.all([flushTrackers(page), flushTrackers(tab2)]);
  await tab2.close({ runBeforeUnload: true }); // sends tab 2's page_leave

  const rows = await rowsWhen(collector, first.deviceId, (r) => r.map((x) => x.pageViewsCount).sort().join() === '1,2');
  const one = rows.find((r) => r.tabId === first.tabId)!;
  const two = rows.find((r) => r.tabId !== first.tabId)!;
  expect(new Set(rows.map((r) => r.visitId))).toEqual(new Set([first.visitId]));
  expect(one).toMatchObject({ pageViewsCount: 2, initURLPath: '/pages/basic.html', exitURLPath: '/pages/other.html', utmSource: ['newsletter'], utmCampaign: ['launch'] });
  expect(two).toMatchObject({ pageViewsCount: 1, initURLPath: '/pages/basic.html', utmSource: null });
  expect(one.activeTime).toBeGreaterThan(0);

  // The visit as the sessions page reads it: three pages, each stored once, on their tabs.
  const visit = await collector.read<{ sessions: Row[]; pages: { pageId: string; tabId: string; url: string; activeTime: number | null }[] }>(`/visits/${first.visitId}`);
  expect(visit.sessions).toHaveLength(2);
  // Sorted: tab 2's page view comes moments after tab 1's second, closer than a request's transit time.
  expect(visit.pages.map((p) => [p.tabId === first.tabId ? 1 : 2, new URL(p.url).pathname]).sort()).toEqual([
    [1, '/pages/basic.html'],
    [1, '/pages/other.html'],
    [2, '/pages/basic.html'],
  ]);
  expect(new Set(visit.pages.map((p) => p.pageId)).size).toBe(3);
  expect(visit.pages.find((p) => p.pageId === first.pageId)!.activeTime).toBeGreaterThan(0); // its page_leave reached the collector
});

test('SPA navigation (the npm build): one row, its page views counted, entry and exit URLs', async ({ page, collector }) => {
  await page.goto(collector.url('/examples/spa/'));
  const ids = await idsOf(page);
  await page.click('nav >> text=Cart');
  await page.click('nav >> text=Account');
  await page.click('nav >> text=Shop');
  await page.click('nav >> text=Cart');
  await flushTrackers(page);
  const [row] = await rowsWhen(collector, ids.deviceId, (r) => r.length === 1 && r[0].pageViewsCount === 5, EXAMPLES_PROJECT_ID);
  expect(row).toMatchObject({ visitId: ids.visitId, initURLPath: '/examples/spa/', exitURLPath: '/examples/spa/cart', initTitle: 'Acme shop (single-page app)', pageReloaded: false });
});

test('reload: the same session, one more page view, pageReloaded', async ({ page, collector }) => {
  await page.goto(collector.url('/pages/basic.html'));
  const ids = await idsOf(page);
  await page.reload();
  await flushTrackers(page);
  const [row] = await rowsWhen(collector, ids.deviceId, (r) => r.length === 1 && r[0].pageViewsCount === 2);
  expect(row).toMatchObject({ sessionId: ids.sessionId, pageReloaded: true, initURLPath: '/pages/basic.html', exitURLPath: '/pages/basic.html' });
});

test('31 minutes idle (fake time): a new visit, so a second row for the same tab', async ({ context, page, collector }) => {
  await context.clock.install();
  // The first minutes' events wait in the page's queue (as if offline): sent after the break, they keep
  // their own time (receivedAt - (sentAt - ts)), so the collector sees the 31 minutes too.
  await context.route('**/collect', (route) => route.abort());
  await page.goto(collector.url('/pages/basic.html'));
  const before = await idsOf(page);
  await page.click('#button');
  await context.clock.fastForward('31:00');
  await context.unroute('**/collect');
  await page.mouse.click(5, 5);
  await call(page, 'track', 'after_break'); // an event after the break: activity (reports alone never start a visit)
  await flushTrackers(page);
  const rows = await rowsWhen(collector, before.deviceId, (r) => r.length === 2);
  const after = await idsOf(page);
  expect(rows.map((r) => r.visitId)).toEqual([before.visitId, after.visitId]);
  expect(after.visitId).not.toBe(before.visitId);
  expect(rows.map((r) => r.tabId)).toEqual([before.tabId, before.tabId]);
  // The second visit starts with the event after the break; the first page's reports sent then still
  // belong to the first visit (reports never start or extend one), so its sessionEnd is late too.
  expect(Date.parse(rows[1].sessionStart) - Date.parse(rows[0].sessionStart)).toBeGreaterThanOrEqual(31 * MIN);
});

test('identify mid-visit: the identityId is on the earlier session of the visit too', async ({ context, page, collector }) => {
  await page.goto(collector.url('/examples/spa/'));
  const first = await idsOf(page);
  await page.click('nav >> text=Cart');
  const tab2 = await context.newPage();
  await tab2.goto(collector.url('/examples/spa/'));
  await tab2.click('nav >> text=Account');
  await tab2.click('#login button'); // identify('ada@example.com') in the second tab
  await Promise.all([flushTrackers(page), flushTrackers(tab2)]);
  const rows = await rowsWhen(collector, first.deviceId, (r) => r.length === 2 && r.every((x) => x.identityId), EXAMPLES_PROJECT_ID);
  expect(rows.map((r) => [r.tabId === first.tabId ? 'first tab' : 'second tab', r.identityId, r.visitId])).toEqual([
    ['first tab', 'ada@example.com', first.visitId],
    ['second tab', 'ada@example.com', first.visitId],
  ]);
});

test('UTM landing: the utm arrays and the referrer on the row', async ({ page, collector }) => {
  await page.goto(collector.url('/examples/site/index.html?utm_source=newsletter&utm_medium=email&utm_campaign=winter'), { referer: 'http://search.example/results?q=boots' });
  const ids = await idsOf(page);
  await page.click('#pricing-link');
  await flushTrackers(page);
  const [row] = await rowsWhen(collector, ids.deviceId, (r) => r.length === 1 && r[0].pageViewsCount === 2, EXAMPLES_PROJECT_ID);
  expect(row).toMatchObject({ utmSource: ['newsletter'], utmMedium: ['email'], utmCampaign: ['winter'], referrerURLOrigin: 'http://search.example', initURLPath: '/examples/site/index.html', exitURLPath: '/examples/site/pricing.html' });
});

test('activeTime: within a second of the time the test spent interacting', async ({ context, page, collector }) => {
  await context.clock.install();
  await page.goto(collector.url('/pages/basic.html'));
  const ids = await idsOf(page);
  const start = await page.evaluate(() => Date.now());
  // 40 s of use: a pointer move every 2 s (under the 30 s idle timeout), then the tab is hidden.
  for (let i = 0; i < 20; i++) {
    await page.mouse.move(100 + i * 5, 200);
    await context.clock.runFor(2000);
  }
  await page.mouse.move(50, 50);
  const spent = (await page.evaluate(() => Date.now())) - start;
  await hidePage(page); // the page_leave carries the page's activeTime
  const [row] = await rowsWhen(collector, ids.deviceId, (r) => r.length === 1 && (r[0].activeTime ?? 0) > 30_000);
  expect(spent).toBeGreaterThanOrEqual(40_000);
  expect(Math.abs(row.activeTime! - spent)).toBeLessThanOrEqual(1000);
});
