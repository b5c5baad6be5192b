import type { Page } from '@playwright/test';
import { trackerIds, type TrackerIds } from 'sessionbeacon/testing';
import type { PageViewEvent } from '../src/protocol';
import { expect, flush, test } from './fixtures';
import { PROJECT_ID } from './support/collector';
import { rowsWhen } from './support/rows';

// The sessions page of the real collector (`sessionbeacon serve`, PGlite) in
// Chromium, over sessions the real script made. The journeys from the browser
// to atomic.session are in journeys.spec.ts.

const idsOf = (page: Page) => trackerIds(page) as Promise<Required<TrackerIds>>;

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
  await rowsWhen(collector, ids.deviceId, (rows) => rows.length === 2);

  const dashboard = await browser.newPage(); // its own context: real time, no tracker
  await dashboard.goto(collector.url(`/#token=${collector.token}`));
  const rows = dashboard.locator(`table.sessions tr[data-visit="${ids.visitId}"]`);
  await expect(rows).toHaveCount(2, { timeout: 10_000 });
  await expect(dashboard.locator('#project')).toHaveText(`project ${PROJECT_ID}`);
  await expect(rows.filter({ hasText: '/pages/other.html' })).toContainText('docs');
  await rows.first().click();

  const visit = dashboard.locator(`.visit[data-visit="${ids.visitId}"]`);
  await expect(visit.locator('.lane')).toHaveCount(2);
  // Not by position: lanes are in the order of their first page view, and under the fake clock (whose
  // jumps the event times derived from sentAt take for real time) the two tabs' first page views are
  // fractions of a second apart, in either order.
  const lane = visit.locator('.lane', { hasText: '2 page views' });
  await expect(lane).toHaveCount(1);
  await expect(visit.locator('.page-bar')).toHaveCount(3);
  await expect(visit.locator('table.pages tbody tr')).toHaveCount(3);
  const tabLabel = (await lane.locator('strong').innerText()).trim();
  await expect(visit.locator('table.pages tbody tr', { hasText: '/pages/other.html' })).toContainText(tabLabel);
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

test('the sessions page shows a cookieless visit like any other: one row, tagged, its page loads in one lane', async ({ page, collector, request }) => {
  // Three page loads of one visitor, as a cookieless tracker sends them (no deviceId, anonymousId, visitId or
  // sessionId; a new tabId and pageId per load), from one address with one User-Agent, made unique to this run.
  const run = Math.random().toString(36).slice(2, 10);
  const userAgent = `Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36 cookieless-${run}`;
  const start = Date.now() - 60_000;
  for (let n = 0; n < 3; n++) {
    const ts = start + n * 10_000;
    const events = [
      { id: `cl-${run}-view-${n}`, type: 'page_view', ts, seq: 0, url: `https://shop.example/cookieless-${run}/${n}`, title: `Page ${n}`, navigationType: 'navigate' },
      { id: `cl-${run}-leave-${n}`, type: 'page_leave', ts: ts + 5000, seq: 1, activeTime: 3000, userActions: 1 },
    ];
    const body = { v: 1, projectId: PROJECT_ID, sentAt: ts + 5000, cookieless: true, tabId: `cl-${run}-tab-${n}`, pageId: `cl-${run}-page-${n}`, events };
    const sent = await request.post(collector.url('/collect'), { data: body, headers: { 'user-agent': userAgent } });
    expect(sent.status()).toBe(200);
  }

  await page.goto(collector.url(`/#token=${collector.token}`));
  const row = page.locator('table.sessions tbody tr', { hasText: `/cookieless-${run}/0` });
  await expect(row).toHaveCount(1, { timeout: 10_000 });
  await expect(row.locator('.flag')).toHaveText(['cookieless']);
  await expect(row).toContainText(`/cookieless-${run}/2`); // the exit page: the three loads are one session
  await row.click();
  const visit = page.locator('.visit');
  await expect(visit.locator('.lane')).toHaveCount(1);
  await expect(visit.locator('.page-bar')).toHaveCount(3);
  await expect(visit.locator('table.pages tbody tr')).toHaveCount(3);
  await expect(visit.locator('.summary')).toContainText('3 page views');
});
