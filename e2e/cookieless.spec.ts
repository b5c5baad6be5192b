import type { BrowserContext, Page } from '@playwright/test';
import { trackerIds } from 'sessionbeacon/testing';
import type { Batch } from '../src/protocol';
import { call, expect, flush, pageViews, test } from './fixtures';
import { CHROMIUM_ARGS, executablePath } from './support/chromium.mjs';
import type { Collector } from './support/collector';
import type { Row } from './support/rows';

// Cookieless mode in Chromium against the real collector (issue 16; README, "Cookieless mode"):
// the built script stores nothing on the device, and the collector derives the device.

type UaRow = Row & { userAgent: string | null };

// A real host name on loopback, for the cookieDomain case (as in cookie-domain.spec.ts).
test.use({ launchOptions: { executablePath, args: [...CHROMIUM_ARGS, '--host-resolver-rules=MAP *.shop.test 127.0.0.1'] } });

/** A User-Agent of our own per context: the collector's device is (IP, User-Agent), and every context here has 127.0.0.1. */
const userAgent = (name: string) =>
  `Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 sbtest-${name}-${Math.random().toString(36).slice(2, 10)}`;

/** Everything the page's origin holds on the device. */
const deviceStorage = async (context: BrowserContext, page: Page) => ({
  cookies: (await context.cookies()).map((c) => c.name),
  ...(await page.evaluate(async () => ({
    documentCookie: document.cookie,
    localStorage: Object.keys(localStorage),
    sessionStorage: Object.keys(sessionStorage),
    indexedDB: (await indexedDB.databases()).map((d) => d.name),
  }))),
});
const NOTHING = { cookies: [], documentCookie: '', localStorage: [], sessionStorage: [], indexedDB: [] };

/** Every row the collector holds of a User-Agent (the cookieless rows of a context), waiting until `ready`. */
async function rowsOfAgent(collector: Collector, ua: string, ready: (rows: UaRow[]) => boolean): Promise<UaRow[]> {
  let rows: UaRow[] = [];
  await expect
    .poll(
      async () => {
        rows = (await collector.read<{ sessions: UaRow[] }>('/sessions?limit=1000')).sessions.filter((s) => s.userAgent === ua);
        return ready(rows);
      },
      { timeout: 15_000, message: `the rows of ${ua}: ${JSON.stringify(rows.map((r) => [r.deviceId, r.visitId, r.pageViewsCount, r.tags]))}` },
    )
    .toBe(true);
  return rows.sort((a, b) => a.sessionStart.localeCompare(b.sessionStart));
}

/** Waits for the page's tracker to run (the script is async), then has it send what it holds. */
const settled = async (page: Page) => {
  await trackerIds(page);
  await flush(page);
};

/** The request bodies a page sends to /collect (fetch and sendBeacon alike). */
function bodiesOf(page: Page): Batch[] {
  const bodies: Batch[] = [];
  page.on('request', (r) => {
    if (r.method() === 'POST' && new URL(r.url()).pathname === '/collect') bodies.push(JSON.parse(r.postData() ?? '{}'));
  });
  return bodies;
}

const STORED_IDS = ['deviceId', 'anonymousId', 'identityId', 'visitId', 'sessionId'];
const isCookielessBody = (b: Batch) => b.cookieless === true && [b, ...b.events].every((e) => STORED_IDS.every((k) => !(k in e)));

test('cookieless: three page loads store nothing on the device and give one visit of three page views; another User-Agent is another device', async ({ browser, collector }) => {
  const ua = userAgent('one');
  const context = await browser.newContext({ userAgent: ua });
  const page = await context.newPage();
  const bodies = bodiesOf(page);
  await page.goto(collector.url('/pages/cookieless.html'));
  await settled(page);
  expect(await deviceStorage(context, page)).toEqual(NOTHING);
  await page.click('#next');
  await expect(page).toHaveURL(/page=next/);
  await settled(page);
  expect(await deviceStorage(context, page)).toEqual(NOTHING);
  await page.reload();
  await settled(page);
  expect(await deviceStorage(context, page)).toEqual(NOTHING);
  expect(await trackerIds(page)).toEqual({ tabId: expect.any(String), pageId: expect.any(String) });

  const [row] = await rowsOfAgent(collector, ua, (rows) => rows.length === 1 && rows[0].pageViewsCount === 3);
  expect(row.tags).toEqual(['cookieless']);
  expect(row.identityId).toBeNull();
  expect(bodies.length).toBeGreaterThanOrEqual(3);
  expect(bodies.every(isCookielessBody)).toBe(true);
  // Three page loads, three tabIds on the wire: nothing carried them from one page to the next.
  expect(new Set(bodies.flatMap((b) => b.events.map((e) => e.tabId ?? b.tabId))).size).toBe(3);

  const otherUa = userAgent('two');
  const other = await browser.newContext({ userAgent: otherUa });
  const otherPage = await other.newPage();
  await otherPage.goto(collector.url('/pages/cookieless.html'));
  await settled(otherPage);
  const [otherRow] = await rowsOfAgent(collector, otherUa, (rows) => rows.length === 1);
  expect(otherRow.deviceId).not.toBe(row.deviceId);
  expect(otherRow.visitId).not.toBe(row.visitId);
  expect(await deviceStorage(other, otherPage)).toEqual(NOTHING);
  await other.close();
  await context.close();
});

test("cookieless 'until-consent': cookieless events before optIn, the full IDs after it", async ({ browser, collector }) => {
  const ua = userAgent('consent');
  const context = await browser.newContext({ userAgent: ua });
  const page = await context.newPage();
  const bodies = bodiesOf(page);
  await page.goto(collector.url('/pages/until-consent.html'));
  await call(page, 'track', 'before_consent');
  await flush(page);
  await expect.poll(() => bodies.flatMap((b) => b.events.map((e) => e.type))).toEqual(expect.arrayContaining(['page_view', 'track']));
  expect(bodies.every(isCookielessBody)).toBe(true);
  expect(await deviceStorage(context, page)).toEqual(NOTHING);
  const before = bodies.length;

  await page.click('#accept');
  await call(page, 'track', 'after_consent');
  await flush(page);
  const ids = await trackerIds(page);
  expect(ids.deviceId).toEqual(expect.any(String));
  const after = bodies.slice(before);
  expect(after.length).toBeGreaterThan(0);
  for (const b of after) {
    expect(b.cookieless).toBeUndefined();
    for (const e of b.events) expect(e.deviceId ?? b.deviceId).toBe(ids.deviceId);
  }
  const stored = await deviceStorage(context, page);
  expect(stored.localStorage).toEqual(expect.arrayContaining(['sb_id', 'sb_consent']));
  expect(stored.cookies).toEqual(expect.arrayContaining(['sb_id']));

  // The collector: the part measured without consent is a cookieless row of the derived device,
  // the rest a row of the SDK's deviceId; nothing ties the two.
  const [cookielessRow] = await rowsOfAgent(collector, ua, (rows) => rows.length === 2);
  const rows = await rowsOfAgent(collector, ua, (r) => r.length === 2);
  expect(cookielessRow.tags).toEqual(['cookieless']);
  const full = rows.find((r) => r.deviceId === ids.deviceId)!;
  expect(full).toBeDefined();
  expect(full.tags).toBeNull();
  expect(cookielessRow.deviceId).not.toBe(ids.deviceId);
  await context.close();
});

test('pending consent opens no IndexedDB database, sets no cookie and touches no storage until optIn', async ({ context, page, server }) => {
  await page.goto(server.url('/consent.html'));
  await call(page, 'track', 'waiting');
  await page.mouse.wheel(0, 200);
  await page.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
  await page.waitForTimeout(1000);
  expect(server.events()).toEqual([]);
  expect(await deviceStorage(context, page)).toEqual(NOTHING);
  // The same check sees the database once consent allows it.
  await page.click('#accept');
  await pageViews(server);
  await expect.poll(async () => (await deviceStorage(context, page)).indexedDB).toEqual(['sessionbeacon']);
});

/** Records every write to document.cookie, before any script of the page runs. */
const recordCookieWrites = (context: BrowserContext) =>
  context.addInitScript(() => {
    const cookie = Object.getOwnPropertyDescriptor(Document.prototype, 'cookie')!;
    const writes: string[] = ((window as unknown as { cookieWrites: string[] }).cookieWrites = []);
    Object.defineProperty(Document.prototype, 'cookie', {
      configurable: true,
      get() {
        return cookie.get!.call(this);
      },
      set(value: string) {
        writes.push(value.split(';')[0]);
        cookie.set!.call(this, value);
      },
    });
  });
const cookieWrites = (page: Page) => page.evaluate(() => (window as unknown as { cookieWrites: string[] }).cookieWrites);

test('with cookieDomain, no cookie is written (not even the probe of the domain) under pending consent or cookieless; after optIn the domain holds', async ({ context, page, server }) => {
  await recordCookieWrites(context);
  const url = (query: string) => `http://www.shop.test:${new URL(server.origin).port}/cookie-domain.html?domain=shop.test&${query}`;
  await page.goto(url('cookieless=true'));
  await pageViews(server);
  await page.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
  expect(await cookieWrites(page)).toEqual([]);

  await page.goto(url('consent=pending'));
  await page.waitForTimeout(1000);
  expect(await cookieWrites(page)).toEqual([]);
  await call(page, 'optIn');
  await expect.poll(async () => (await context.cookies()).find((c) => c.name === 'sb_id')?.domain).toBe('.shop.test');
  expect(await cookieWrites(page)).toEqual(expect.arrayContaining(['sb_probe=1', 'sb_consent=1']));
});
