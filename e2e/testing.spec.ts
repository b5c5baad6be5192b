// sessionbeacon/testing, used the way a user's Playwright test would: imported by
// its package name (the built dist/testing.mjs), with no collector running.
import { captureBeacons, hidePage, showPage } from 'sessionbeacon/testing';
import type { PageLeaveEvent, PageViewEvent, TrackEvent } from 'sessionbeacon';
import { expect, test } from './fixtures';

test('captures the page view and the queued calls, and nothing reaches the network', async ({ page, server }) => {
  const beacons = await captureBeacons(page);
  await page.goto(server.url('/basic.html'));
  const view = await beacons.waitForEvent<PageViewEvent>((e) => e.type === 'page_view');
  expect(view).toMatchObject({ url: server.url('/basic.html'), title: 'Basic page', automation: true });
  const early = await beacons.waitForEvent<TrackEvent>((e) => e.type === 'track' && e.name === 'before_load');
  expect(early.properties).toEqual({ queued: true });
  await beacons.flush();
  expect(server.attempts).toEqual([]); // the page's own server never saw a beacon
});

test('an endpoint on another origin that does not exist: captured, answered with CORS, sent once', async ({ page, server }) => {
  const beacons = await captureBeacons(page, { endpoint: 'https://collector.invalid/collect' });
  await page.goto(server.url('/remote.html'));
  await page.click('#buy');
  // The page batches for 60 s (data-flush-interval); waitForEvent flushes it instead of waiting.
  const buy = await beacons.waitForEvent<TrackEvent>((e) => e.type === 'track' && e.name === 'buy', { timeout: 10_000 });
  expect(buy.properties).toEqual({ sku: 'B-1' });
  await beacons.flush();
  const copies = beacons.batches.flatMap((b) => b.body.events).filter((e) => e.id === buy.id);
  expect(copies).toHaveLength(1); // answered 200 with CORS: the tracker did not retry
  expect(beacons.batches.every((b) => b.url === 'https://collector.invalid/collect' && b.via === 'fetch' && b.status === 200)).toBe(true);
});

test('expectNothingSent: passes while consent is pending, fails once something was sent', async ({ page, server }) => {
  const beacons = await captureBeacons(page);
  await page.goto(server.url('/consent.html'));
  await page.click('#track');
  await beacons.expectNothingSent();
  await page.click('#accept');
  const view = await beacons.waitForEvent<PageViewEvent>((e) => e.type === 'page_view');
  expect(view.title).toBe('Consent pending');
  await expect(beacons.expectNothingSent()).rejects.toThrow(/expected nothing sent, but \d+ request\(s\) were: page_view/);
});

test("a request answered 'abort' (a network failure) still counts as sent, and its events come again", async ({ page, server }) => {
  let aborted = 0;
  const beacons = await captureBeacons(page, { respond: () => (aborted++ < 1 ? 'abort' : { status: 200 }) });
  await page.goto(server.url('/basic.html'));
  const view = await beacons.waitForEvent<PageViewEvent>((e) => e.type === 'page_view', { timeout: 10_000 });
  expect(beacons.batches[0].status).toBe(0);
  await expect(beacons.expectNothingSent()).rejects.toThrow(/expected nothing sent/);
  await expect.poll(() => beacons.batches.some((b) => b.status === 200 && b.body.events.some((e) => e.id === view.id)), { timeout: 10_000 }).toBe(true);
});

test('answers as the test says: a 503 is retried, and each event is listed once', async ({ page, server }) => {
  let refused = 0;
  const beacons = await captureBeacons(page, { respond: () => (refused++ < 1 ? { status: 503, headers: { 'retry-after': '0' } } : { status: 200 }) });
  await page.goto(server.url('/basic.html'));
  await beacons.waitForEvent((e) => e.type === 'page_view', { timeout: 10_000 });
  await expect.poll(() => beacons.batches.filter((b) => b.status === 200).length, { timeout: 10_000 }).toBeGreaterThan(0);
  const [first] = beacons.batches;
  expect(first.status).toBe(503);
  const retried = beacons.batches.find((b) => b.status === 200 && b.body.events.some((e) => e.id === first.body.events[0].id));
  expect(retried).toBeDefined(); // the same event, sent again
  expect(beacons.events().filter((e) => e.id === first.body.events[0].id)).toHaveLength(1);
});

test("hidePage: the page reports its page_leave; waitForEvent's error lists what was sent", async ({ page, server }) => {
  const beacons = await captureBeacons(page);
  await page.goto(server.url('/basic.html'));
  const view = await beacons.waitForEvent<PageViewEvent>((e) => e.type === 'page_view');
  await page.click('#button');
  await hidePage(page);
  const leave = await beacons.waitForEvent<PageLeaveEvent>((e) => e.type === 'page_leave' && e.pageId === view.pageId);
  expect(leave.userActions).toBe(1);
  expect(beacons.batches.find((b) => b.body.events.some((e) => e.id === leave.id))?.via).toBe('beacon'); // sent as a page being left
  await showPage(page);
  await page.click('#button');
  await expect(beacons.waitForEvent((e) => e.type === 'identify', { timeout: 300 })).rejects.toThrow(/no matching event was sent within 300 ms; sent: page_view .*basic\.html/);
});
