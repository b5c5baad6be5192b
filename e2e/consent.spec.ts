import type { TrackEvent } from '../src/protocol';
import { call, expect, flush, pageViews, received, test } from './fixtures';

// A consent decision is the visitor's, not one tab's (issue 14): it applies to every open tab of the site at once.

test('optOut in one tab stops a second open tab at once: it sends nothing more and stores no ID', async ({ context, page, server }) => {
  const other = await context.newPage();
  await page.goto(server.url('/basic.html'));
  await other.goto(server.url('/other.html'));
  await pageViews(server, 2);
  await call(page, 'optOut');
  // The other tab hears the decision (storage event) without a reload.
  await expect.poll(() => other.evaluate(() => localStorage.getItem('sb_consent'))).toBe('0');
  await other.waitForTimeout(100);
  const before = server.events().length;
  await call(other, 'track', 'after_opt_out');
  await other.mouse.wheel(0, 200); // activity that would write the visit
  await flush(other);
  await other.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
  await other.waitForTimeout(1500);
  expect(server.events().slice(before)).toEqual([]);
  for (const tab of [page, other])
    expect(await tab.evaluate(() => [localStorage.getItem('sb_id'), localStorage.getItem('sb_visit'), document.cookie.match(/sb_(id|visit)=/)?.[0] ?? null])).toEqual([null, null, null]);
});

test("optIn in one tab sends what a second tab held under consent 'pending', with one deviceId", async ({ context, page, server }) => {
  const other = await context.newPage();
  await page.goto(server.url('/consent.html'));
  await other.goto(server.url('/consent.html'));
  await call(other, 'track', 'waiting');
  await page.waitForTimeout(500);
  expect(server.events()).toEqual([]);
  await page.click('#accept');
  const [waiting] = await received<TrackEvent>(server, (e) => e.type === 'track' && (e as TrackEvent).name === 'waiting');
  const views = await pageViews(server, 2);
  expect(new Set([...views, waiting].map((e) => e.deviceId)).size).toBe(1);
});
