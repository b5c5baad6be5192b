import { expect, pageViews, test } from './fixtures';

// One browser, one deviceId (issue 14): trackers and tabs that start together on a first
// visit must not each mint their own. Each case runs a few fresh browser contexts, since
// the race it guards against is a matter of timing.
const RUNS = 4;

test('two trackers (two projects) on one page agree on one deviceId on a first visit', async ({ browser, server }) => {
  for (let run = 0; run < RUNS; run++) {
    server.clear();
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(server.url('/two-projects.html'));
    const views = await pageViews(server, 2);
    expect(new Set(views.map((v) => v.deviceId)).size, `run ${run}`).toBe(1);
    await context.close();
  }
});

/**
 * IndexedDB reads answer 300 ms late, as on a busy start-up: the window in which two tabs
 * could both find nothing and mint is then wide open every run, not in one run of four.
 */
function slowIndexedDbReads() {
  const get = IDBObjectStore.prototype.get;
  IDBObjectStore.prototype.get = function (this: IDBObjectStore, ...args: Parameters<IDBObjectStore['get']>) {
    const request = get.apply(this, args);
    let handler: ((e: Event) => void) | null = null;
    Object.defineProperty(request, 'onsuccess', {
      get: () => handler,
      set(fn) {
        handler = fn;
        request.addEventListener('success', (e) => setTimeout(() => handler?.call(request, e), 300));
      },
    });
    return request;
  };
}

test('two tabs opened together on a first visit agree on one deviceId', async ({ browser, server }) => {
  for (let run = 0; run < RUNS; run++) {
    server.clear();
    const context = await browser.newContext();
    await context.addInitScript(slowIndexedDbReads);
    const [a, b] = await Promise.all([context.newPage(), context.newPage()]);
    await Promise.all([a.goto(server.url('/basic.html')), b.goto(server.url('/other.html'))]);
    const views = await pageViews(server, 2);
    expect(new Set(views.map((v) => v.deviceId)).size, `run ${run}`).toBe(1);
    await context.close();
  }
});

test('the tag twice on one page is one tracker, with a console warning', async ({ page, server }) => {
  const warnings: string[] = [];
  page.on('console', (m) => m.type() === 'warning' && warnings.push(m.text()));
  await page.goto(server.url('/twice.html'));
  await pageViews(server);
  await page.evaluate(() => (window as unknown as { sessionbeacon: (m: string) => Promise<void> }).sessionbeacon('flush'));
  await page.waitForTimeout(500);
  expect(server.events().filter((e) => e.type === 'page_view')).toHaveLength(1);
  expect(warnings.some((w) => /sessionbeacon: a tracker for .* already runs/.test(w))).toBe(true);
});
