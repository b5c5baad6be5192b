import type { PageLeaveEvent, PagePingEvent, TrackEvent } from '../src/protocol';
import { call, expect, flush, pageViews, received, test } from './fixtures';

const IDS = ['deviceId', 'anonymousId', 'visitId', 'sessionId', 'tabId', 'pageId'] as const;

test('the script tag sends a page_view with every ID and the page context', async ({ page, server }) => {
  await page.goto(server.url('/basic.html?utm_source=newsletter&utm_medium=email&utm_campaign=launch&gclid=G-1'));
  const [view] = await pageViews(server);
  const batch = server.batches.find((b) => b.events.includes(view))!;
  expect(batch).toMatchObject({ v: 1, projectId: 42, sdk: '0.1.0' });
  expect(batch.contentType).toBe('text/plain;charset=UTF-8'); // no CORS preflight
  for (const id of IDS) expect(view[id]).toMatch(/^[\w-]{21}$/);
  expect(view.id).toMatch(/^[\w-]{21}$/);
  expect(view).toMatchObject({
    url: server.url('/basic.html?utm_source=newsletter&utm_medium=email&utm_campaign=launch&gclid=G-1'),
    title: 'Basic page',
    navigationType: 'navigate',
    utmSource: 'newsletter',
    utmMedium: 'email',
    utmCampaign: 'launch',
    clickIds: { gclid: 'G-1' },
    screenWidth: expect.any(Number),
    screenHeight: expect.any(Number),
    maxTouchPoints: expect.any(Number),
    language: expect.stringMatching(/^[a-z]{2}/),
    timezoneIANA: expect.any(String),
    timezoneOffset: expect.any(Number),
    automation: true, // Playwright sets navigator.webdriver: tagged, not dropped
  });
  expect(view.userAgentData?.brands.length).toBeGreaterThan(0);
});

test.describe('in a time zone of its own', () => {
  test.use({ timezoneId: 'Asia/Kathmandu' });
  test('the page view carries the browser\'s IANA time zone and its offset (Temporal where Chromium has it)', async ({ page, server }) => {
    await page.goto(server.url('/basic.html'));
    const [view] = await pageViews(server);
    // The id Intl gives in this page: Chromium 156's ICU names this zone 'Asia/Katmandu', both through Temporal and Intl.
    const intl = await page.evaluate(() => Intl.DateTimeFormat().resolvedOptions().timeZone);
    expect(intl).toMatch(/^Asia\/Kat(h)?mandu$/);
    expect(view).toMatchObject({ timezoneIANA: intl, timezoneOffset: 345 });
    // What the build read it with, in this Chromium: Temporal, not an Intl formatter.
    expect(await page.evaluate(() => typeof (globalThis as { Temporal?: unknown }).Temporal)).toBe('object');
  });
});

test('calls made through the stub before the script loaded are replayed, after the page view', async ({ page, server }) => {
  await page.goto(server.url('/basic.html'));
  const [early] = await received<TrackEvent>(server, (e) => e.type === 'track' && e.name === 'before_load');
  const [view] = await pageViews(server);
  expect(early).toMatchObject({ properties: { queued: true }, pageId: view.pageId, visitId: view.visitId });
  expect(early.seq).toBeGreaterThan(view.seq);
  expect(early.ts).toBeGreaterThanOrEqual(view.ts);
});

test('navigation timing of the load arrives once the load is complete', async ({ page, server }) => {
  await page.goto(server.url('/basic.html'));
  const [ping] = await received<PagePingEvent>(server, (e) => e.type === 'page_ping' && 'load' in e);
  expect(ping.domInteractive).toBeGreaterThan(0);
  expect(ping.domInteractive).toBeLessThanOrEqual(ping.domContentLoaded!);
  expect(ping.domContentLoaded).toBeLessThanOrEqual(ping.load!);
});

test('a reload keeps deviceId, visitId, tabId and sessionId, with a new pageId and navigation type reload', async ({ page, server }) => {
  await page.goto(server.url('/basic.html'));
  const [first] = await pageViews(server);
  await page.reload();
  const [, second] = await pageViews(server, 2);
  for (const id of ['deviceId', 'anonymousId', 'visitId', 'tabId', 'sessionId'] as const) expect(second[id]).toBe(first[id]);
  expect(second.pageId).not.toBe(first.pageId);
  expect(second.navigationType).toBe('reload');
  expect(second.seq).toBeGreaterThan(first.seq); // the tab's counter survives the reload
  // The page left reported its activeTime on the way out (sendBeacon from pagehide).
  const [leave] = await received<PageLeaveEvent>(server, (e) => e.type === 'page_leave' && e.pageId === first.pageId);
  expect(leave.activeTime).toBeGreaterThanOrEqual(0);
});

test('a second tab shares deviceId and visitId, with a new tabId and sessionId', async ({ context, page, server }) => {
  await page.goto(server.url('/basic.html'));
  const [first] = await pageViews(server);
  const tab2 = await context.newPage();
  await tab2.goto(server.url('/other.html'));
  const [, second] = await pageViews(server, 2);
  expect(second.deviceId).toBe(first.deviceId);
  expect(second.visitId).toBe(first.visitId);
  expect(second.tabId).not.toBe(first.tabId);
  expect(second.sessionId).not.toBe(first.sessionId);
});

test('a duplicated tab (its sessionStorage copied before the script runs) gets a new tabId', async ({ context, page, server }) => {
  await page.goto(server.url('/basic.html'));
  const [original] = await pageViews(server);
  await expect.poll(() => page.evaluate(() => sessionStorage.length)).toBeGreaterThan(0);
  const copy = await page.evaluate(() => Object.fromEntries(Object.entries(sessionStorage)));
  const duplicate = await context.newPage();
  await duplicate.addInitScript((entries) => {
    // What the browser does when a tab is duplicated: the new tab starts with a copy.
    if (!sessionStorage.length) for (const [k, v] of Object.entries(entries)) sessionStorage.setItem(k, v as string);
  }, copy);
  await duplicate.goto(server.url('/basic.html'));
  const [, dup] = await pageViews(server, 2);
  expect(dup.tabId).not.toBe(original.tabId);
  expect(dup.sessionId).not.toBe(original.sessionId);
  expect(dup.deviceId).toBe(original.deviceId);
  expect(dup.visitId).toBe(original.visitId);
  // The original tab keeps its tabId.
  await call(page, 'track', 'original_still_here');
  const [still] = await received(server, (e) => e.type === 'track' && (e as TrackEvent).name === 'original_still_here');
  expect(still.tabId).toBe(original.tabId);
});

test('a window.open popup (which the browser gives a copy of sessionStorage) is a new tab', async ({ page, server }) => {
  await page.goto(server.url('/basic.html'));
  const [original] = await pageViews(server);
  const popupPromise = page.waitForEvent('popup');
  await page.evaluate(() => window.open('/other.html'));
  await popupPromise;
  const [, popupView] = await pageViews(server, 2);
  expect(popupView.tabId).not.toBe(original.tabId);
  expect(popupView.visitId).toBe(original.visitId);
});

test('31 minutes without activity give a new visitId and sessionId; the tab stays', async ({ page, server }) => {
  await page.clock.install({ time: new Date('2026-11-22T10:00:00Z') });
  await page.goto(server.url('/basic.html'));
  await page.clock.runFor(1000);
  const [view] = await pageViews(server);
  await page.clock.fastForward('31:00');
  await page.mouse.click(10, 10); // real activity, 31 minutes after the last
  await call(page, 'track', 'after_break');
  await page.clock.runFor(1000);
  const [after] = await received<TrackEvent>(server, (e) => e.type === 'track' && (e as TrackEvent).name === 'after_break');
  expect(after.visitId).not.toBe(view.visitId);
  expect(after.sessionId).not.toBe(view.sessionId);
  expect(after.tabId).toBe(view.tabId);
  expect(after.deviceId).toBe(view.deviceId);
});

test('29 minutes without activity keep the visit', async ({ page, server }) => {
  await page.clock.install({ time: new Date('2026-11-22T10:00:00Z') });
  await page.goto(server.url('/basic.html'));
  await page.clock.runFor(1000);
  const [view] = await pageViews(server);
  await page.clock.fastForward('29:00');
  await call(page, 'track', 'soon_after');
  await page.clock.runFor(1000);
  const [after] = await received(server, (e) => e.type === 'track' && (e as TrackEvent).name === 'soon_after');
  expect(after.visitId).toBe(view.visitId);
  expect(after.sessionId).toBe(view.sessionId);
});

test('an SPA route change gives a new pageId; the same URL again does not', async ({ page, server }) => {
  await page.goto(server.url('/spa.html'));
  const [first] = await pageViews(server);
  await page.click('#to-products');
  await page.click('#same');
  const [, second] = await pageViews(server, 2);
  expect(second).toMatchObject({ url: server.url('/spa/products'), navigationType: 'route', referrer: server.url('/spa.html') });
  expect(second.pageId).not.toBe(first.pageId);
  expect(second.sessionId).toBe(first.sessionId);
  await page.click('#hash');
  const views = await pageViews(server, 3);
  expect(views[2].url).toBe(server.url('/spa/products#reviews'));
  await page.goBack();
  const all = await pageViews(server, 4);
  expect(all[3].url).toBe(server.url('/spa/products'));
  await flush(page);
  expect(server.events().filter((e) => e.type === 'page_view')).toHaveLength(4);
});

test('two tabs waking together after 31 minutes agree on one new visitId (Web Locks)', async ({ context, page, server }) => {
  await context.clock.install({ time: new Date('2026-11-22T10:00:00Z') });
  const tab2 = await context.newPage();
  await page.goto(server.url('/basic.html'));
  await tab2.goto(server.url('/other.html'));
  await context.clock.runFor(1000);
  const [a, b] = await pageViews(server, 2);
  expect(b.visitId).toBe(a.visitId);
  await context.clock.fastForward('31:00');
  await Promise.all([call(page, 'track', 'wake_1'), call(tab2, 'track', 'wake_2')]);
  await context.clock.runFor(1000);
  const woken = await received<TrackEvent>(server, (e) => e.type === 'track' && (e as TrackEvent).name.startsWith('wake_'), 2);
  expect(woken[0].visitId).not.toBe(a.visitId);
  expect(woken[1].visitId).toBe(woken[0].visitId);
  expect(woken[0].sessionId).not.toBe(woken[1].sessionId);
});
