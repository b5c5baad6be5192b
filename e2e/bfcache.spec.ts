import type { PageViewEvent } from '../src/protocol';
import { expect, pageViews, test } from './fixtures';
import { CHROMIUM_ARGS, executablePath } from './support/chromium';

// Playwright starts Chromium with --disable-back-forward-cache; this file wants the real cache.
test.use({ launchOptions: { executablePath, args: CHROMIUM_ARGS, ignoreDefaultArgs: ['--disable-back-forward-cache'] } });

test('a page with the SDK goes into the back/forward cache, and its restore is a new page view', async ({ page, server }) => {
  await page.goto(server.url('/basic.html'));
  const [first] = await pageViews(server);
  await page.click('#other');
  await pageViews(server, 2);
  // A restore fires no load event, so wait only for the navigation to commit.
  await page.goBack({ waitUntil: 'commit' });
  // Proof it came from the cache: pageshow with persisted === true.
  await expect.poll(() => page.evaluate(() => (window as unknown as { restoredFromCache?: boolean }).restoredFromCache)).toBe(true);
  const views = await pageViews(server, 3);
  const restored = views[2] as PageViewEvent;
  expect(restored).toMatchObject({
    navigationType: 'back_forward_cache',
    url: server.url('/basic.html'),
    tabId: first.tabId,
    sessionId: first.sessionId,
    visitId: first.visitId,
  });
  expect(restored.pageId).not.toBe(first.pageId);
});
