import type { PageViewEvent } from '../src/protocol';
import type { Page } from '@playwright/test';
import { call, expect, flush, test } from './fixtures';
import { PROJECT_ID, type Collector } from './support/collector';

// The real script in Chromium, sending to the real collector (`sessionbeacon
// serve`, PGlite), read back through its routes: what a site owner sees.

interface Row {
  sessionId: string;
  deviceId: string;
  visitId: string;
  tabId: string;
  pageViewsCount: number;
  activeTime: number | null;
  initURLPath: string;
  exitURLPath: string;
  utmSource: string[] | null;
  utmCampaign: string[] | null;
  tags: string[] | null;
}
interface Ids {
  deviceId: string;
  visitId: string;
  tabId: string;
}

/** The page's IDs, once its tracker has started (they are read from storage asynchronously). */
async function idsOf(page: Page): Promise<Ids> {
  let ids: Partial<Ids> = {};
  await expect.poll(async () => (ids = (await call(page, 'ids')) as Partial<Ids>).visitId && ids.tabId).toBeTruthy();
  return ids as Ids;
}

const rowsOf = async (collector: Collector, deviceId: string) =>
  (await collector.read<{ sessions: Row[] }>('/sessions?limit=1000')).sessions.filter((s) => s.deviceId === deviceId);

test('a visit in two tabs becomes two atomic.session rows with one visitId, each page once', async ({ context, page, collector }) => {
  await context.clock.install();
  await page.goto(collector.url('/pages/basic.html?utm_source=newsletter&utm_campaign=launch'));
  const first = await idsOf(page);
  await context.clock.runFor(3000);
  await page.click('#button');
  await page.click('#other'); // a second page in the first tab
  await expect(page).toHaveTitle('Other page');
  const tab2 = await context.newPage();
  await tab2.goto(collector.url('/pages/basic.html'));
  await context.clock.runFor(2000);
  await Promise.all([flush(page), flush(tab2)]);
  await tab2.close({ runBeforeUnload: true }); // sends tab 2's page_leave

  await expect.poll(async () => (await rowsOf(collector, first.deviceId)).map((r) => r.pageViewsCount).sort(), { timeout: 15_000 }).toEqual([1, 2]);
  const rows = await rowsOf(collector, first.deviceId);
  const one = rows.find((r) => r.tabId === first.tabId)!;
  const two = rows.find((r) => r.tabId !== first.tabId)!;
  expect(new Set(rows.map((r) => r.visitId))).toEqual(new Set([first.visitId]));
  expect(one).toMatchObject({ pageViewsCount: 2, initURLPath: '/pages/basic.html', exitURLPath: '/pages/other.html', utmSource: ['newsletter'], utmCampaign: ['launch'] });
  expect(two).toMatchObject({ pageViewsCount: 1, initURLPath: '/pages/basic.html', utmSource: null });
  expect(one.activeTime).toBeGreaterThan(0);

  // The visit as the sessions page reads it: three pages, each stored once, on their tabs.
  const visit = await collector.read<{ sessions: Row[]; pages: { pageId: string; tabId: string; url: string; activeTime: number | null }[] }>(`/visits/${first.visitId}`);
  expect(visit.sessions).toHaveLength(2);
  expect(visit.pages.map((p) => [p.tabId === first.tabId ? 1 : 2, new URL(p.url).pathname])).toEqual([
    [1, '/pages/basic.html'],
    [1, '/pages/other.html'],
    [2, '/pages/basic.html'],
  ]);
  expect(new Set(visit.pages.map((p) => p.pageId)).size).toBe(3);
  expect(visit.pages[0].activeTime).toBeGreaterThan(0); // its page_leave reached the collector
});

test('the sessions page lists the visit and draws its tabs and pages', async ({ browser, context, page, collector }) => {
  await context.clock.install();
  await page.goto(collector.url('/pages/basic.html?utm_source=docs'));
  const ids = await idsOf(page);
  await context.clock.runFor(4000);
  await page.click('#button');
  await page.click('#other');
  await expect(page).toHaveTitle('Other page');
  const tab2 = await context.newPage();
  await tab2.goto(collector.url('/pages/basic.html'));
  await context.clock.runFor(1500);
  await Promise.all([flush(page), flush(tab2)]);
  await expect.poll(async () => (await rowsOf(collector, ids.deviceId)).length, { timeout: 15_000 }).toBe(2);

  const dashboard = await browser.newPage(); // its own context: real time, no tracker
  await dashboard.goto(collector.url(`/#token=${collector.token}`));
  const rows = dashboard.locator(`table.sessions tr[data-visit="${ids.visitId}"]`);
  await expect(rows).toHaveCount(2, { timeout: 10_000 });
  await expect(dashboard.locator('#project')).toHaveText(`project ${PROJECT_ID}`);
  await expect(rows.filter({ hasText: '/pages/other.html' })).toContainText('docs');
  await rows.first().click();

  const visit = dashboard.locator(`.visit[data-visit="${ids.visitId}"]`);
  await expect(visit.locator('.lane')).toHaveCount(2);
  await expect(visit.locator('.lane').first()).toContainText('2 page views');
  await expect(visit.locator('.page-bar')).toHaveCount(3);
  await expect(visit.locator('table.pages tbody tr')).toHaveCount(3);
  await expect(visit.locator('table.pages tbody tr').nth(1)).toContainText('/pages/other.html');
  await expect(visit.locator('.summary')).toContainText('2 tabs · 3 page views');
  await expect(dashboard.locator('#token-form')).toBeHidden();
  expect(dashboard.url()).toContain(`visit=${ids.visitId}`); // a link to this view

  await dashboard.close();
});

test('the sessions page shows what pages send as text, never as markup', async ({ page, collector, request }) => {
  const id = (n: string) => `xss-${n}-${Math.random().toString(36).slice(2, 12)}`;
  const ids = { deviceId: id('device'), anonymousId: id('anon'), visitId: id('visit'), sessionId: id('session'), tabId: id('tab'), pageId: id('page') };
  const hostile = '<img src=x onerror="window.__pwned=1">';
  const view: PageViewEvent = {
    ...ids,
    type: 'page_view',
    id: id('event'),
    ts: Date.now() - 1000,
    seq: 1,
    url: `https://shop.example/"><script>window.__pwned=2</script>?utm_source=${encodeURIComponent(hostile)}`,
    title: hostile,
    navigationType: 'navigate',
  };
  const sent = await request.post(collector.url('/collect'), { data: { v: 1, projectId: PROJECT_ID, sentAt: Date.now(), events: [view] } });
  expect(sent.status()).toBe(200);

  await page.goto(collector.url(`/#token=${collector.token}&visit=${ids.visitId}`));
  const row = page.locator(`table.sessions tr[data-visit="${ids.visitId}"]`);
  await expect(row).toContainText(hostile); // the UTM source, as text
  await expect(page.locator('.visit table.pages')).toContainText(hostile); // the page title, as text
  expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
  await expect(page.locator('img')).toHaveCount(0);
});

test('the sessions page asks for a token, and says so when one is wrong', async ({ page, collector }) => {
  await page.goto(collector.url('/'));
  await expect(page.locator('#token-form')).toBeVisible();
  await page.fill('#token', 'not-a-token');
  await page.click('#token-form button');
  await expect(page.locator('#status')).toHaveText(/401.*this token reads no project/);
  await expect(page.locator('table.sessions')).toHaveCount(0);
});
