// Tests of the examples, written as a site's own Playwright tests would be: with
// sessionbeacon/testing capturing the beacons in the browser, no collector
// involved. (playwright.config.ts serves the examples; baseURL points there.)
import { expect, test } from '@playwright/test';
import type { IdentifyEvent, PageLeaveEvent, PageViewEvent, TrackEvent } from 'sessionbeacon';
import { captureBeacons, hidePage } from 'sessionbeacon/testing';

test('site: a campaign landing, a second page, a tracked sign-up', async ({ page }) => {
  const beacons = await captureBeacons(page);
  await page.goto('/examples/site/index.html?utm_source=newsletter&utm_medium=email&utm_campaign=winter');
  const landing = await beacons.waitForEvent<PageViewEvent>((e) => e.type === 'page_view');
  expect(landing).toMatchObject({ title: 'Acme boots', utmSource: 'newsletter', utmMedium: 'email', utmCampaign: 'winter', navigationType: 'navigate' });

  await page.click('#pricing-link');
  const pricing = await beacons.waitForEvent<PageViewEvent>((e) => e.type === 'page_view' && e.title === 'Prices - Acme boots');
  expect(pricing.referrer).toBe(landing.url);
  expect(pricing.visitId).toBe(landing.visitId); // same visit, new page
  expect(pricing.pageId).not.toBe(landing.pageId);

  await page.click('#signup');
  const signUp = await beacons.waitForEvent<TrackEvent>((e) => e.type === 'track' && e.name === 'sign_up');
  expect(signUp).toMatchObject({ properties: { plan: 'winter' }, pageId: pricing.pageId });

  await hidePage(page);
  const leave = await beacons.waitForEvent<PageLeaveEvent>((e) => e.type === 'page_leave' && e.pageId === pricing.pageId);
  expect(leave.userActions).toBe(1);
});

test('spa: route changes are page views; identify on log-in, reset on log-out', async ({ page }) => {
  const beacons = await captureBeacons(page);
  await page.goto('/examples/spa/');
  const shop = await beacons.waitForEvent<PageViewEvent>((e) => e.type === 'page_view');
  await page.click('#add');
  await page.click('nav >> text=Cart');
  const cart = await beacons.waitForEvent<PageViewEvent>((e) => e.type === 'page_view' && e.url.endsWith('/examples/spa/cart'));
  expect(cart).toMatchObject({ navigationType: 'route', referrer: shop.url, visitId: shop.visitId });
  expect(beacons.events<TrackEvent>((e) => e.type === 'track' && e.name === 'add_to_cart')[0].properties).toEqual({ sku: 'BOOT-W', price: 89 });

  await page.click('nav >> text=Account');
  await page.click('#login button');
  const identify = await beacons.waitForEvent<IdentifyEvent>((e) => e.type === 'identify');
  expect(identify).toMatchObject({ identityId: 'ada@example.com', traits: { plan: 'pro' }, anonymousId: shop.anonymousId });

  await page.click('#logout');
  const after = await beacons.waitForEvent<PageViewEvent>((e) => e.type === 'page_view' && e.ts > identify.ts && e.url.endsWith('/examples/spa/'));
  expect(after.identityId).toBeUndefined();
  expect(after.anonymousId).not.toBe(shop.anonymousId); // reset: a new anonymous identity
  expect(after.deviceId).toBe(shop.deviceId); // the device stays
});

test('consent: nothing is sent until the visitor accepts; then what was measured goes out', async ({ page }) => {
  const beacons = await captureBeacons(page);
  await page.goto('/examples/consent/');
  await expect(page.getByRole('dialog', { name: 'Cookie consent' })).toBeVisible();
  await page.click('#read');
  await beacons.expectNothingSent();
  expect(await page.context().cookies()).toEqual([]); // and nothing stored

  await page.click('#accept');
  const view = await beacons.waitForEvent<PageViewEvent>((e) => e.type === 'page_view');
  expect(view.title).toBe('Consent banner example');
  await beacons.waitForEvent<TrackEvent>((e) => e.type === 'track' && e.name === 'read_more'); // measured while pending
  await page.reload();
  await expect(page.getByRole('dialog', { name: 'Cookie consent' })).toBeHidden();
});

test('consent: declined, nothing is ever sent, also after a reload', async ({ page }) => {
  const beacons = await captureBeacons(page);
  await page.goto('/examples/consent/');
  await page.click('#decline');
  await page.click('#read');
  await beacons.expectNothingSent();
  await page.reload();
  await page.click('#read');
  await beacons.expectNothingSent();
});
