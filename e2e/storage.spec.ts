import { expect, flush, pageViews, test } from './fixtures';

test('clearing cookies and localStorage keeps the deviceId from IndexedDB, in the very first beacon', async ({ context, page, server }) => {
  await page.goto(server.url('/basic.html'));
  const [first] = await pageViews(server);
  await flush(page);
  await context.clearCookies();
  await page.evaluate(() => localStorage.clear());
  server.clear();
  await page.reload();
  const [view] = await pageViews(server);
  expect(view.deviceId).toBe(first.deviceId);
  expect(view.anonymousId).toBe(first.anonymousId);
  // Every copy is repaired.
  await expect.poll(async () => (await context.cookies()).find((c) => c.name === 'sb_id')?.value).toContain(first.deviceId);
  expect(await page.evaluate(() => localStorage.getItem('sb_id'))).toContain(first.deviceId);
});

test('ID cookies are first-party, SameSite=Lax, path=/, about 400 days, not Secure on http', async ({ context, page, server }) => {
  await page.goto(server.url('/basic.html'));
  await pageViews(server);
  const cookie = (await context.cookies()).find((c) => c.name === 'sb_id')!;
  expect(cookie).toMatchObject({ sameSite: 'Lax', path: '/', secure: false, httpOnly: false, domain: '127.0.0.1' });
  const days = (cookie.expires * 1000 - Date.now()) / 86_400_000;
  expect(days).toBeGreaterThan(399);
  expect(days).toBeLessThanOrEqual(400);
});
