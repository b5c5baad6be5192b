/**
 * sessionbeacon/testing: test your own tracking in Playwright (docs/testing.md).
 *
 *   const beacons = await captureBeacons(page);
 *   await page.goto('/');
 *   const view = await beacons.waitForEvent((e) => e.type === 'page_view');
 *   await beacons.expectNothingSent(); // for consent tests
 *
 * It intercepts the page's requests to the endpoint in the browser context
 * (Playwright's `context.route`), so no collector needs to run, and answers them
 * as the collector would. Runs in the test process (Node); only Playwright's
 * types are imported.
 */
import type { BrowserContext, Page, Route } from '@playwright/test';
import { expandEvents, type Batch, type WireEvent } from '../protocol';
import { TRACKERS } from '../client/registry';

export type { Batch, WireEvent } from '../protocol';

/** One request the page sent to the endpoint, as captured. */
export interface CapturedBatch {
  url: string;
  /** Test-process clock (Date.now()) when it was captured. */
  capturedAt: number;
  body: Batch;
  /** `fetch`, or `beacon` for navigator.sendBeacon (whose answer the page never learns). */
  via: 'fetch' | 'beacon';
  /** The status it was answered with; 0 for `'abort'` (a network failure). */
  status: number;
}

/** How to answer one captured request: a status (and body), or `'abort'` for a network failure. */
export type Answer = { status: number; headers?: Record<string, string>; body?: string } | 'abort';

export interface CaptureOptions {
  /**
   * Which requests are beacons: a Playwright URL glob, a RegExp, or a predicate
   * over the URL. Default `'**\/collect'` (the endpoint's path in the docs and examples).
   */
  endpoint?: string | RegExp | ((url: URL) => boolean);
  /** How to answer; default 200 with `{ accepted, duplicates: 0, stale: 0 }`, as the collector does. */
  respond?: (batch: Batch) => Answer;
}

export interface WaitOptions {
  /** Milliseconds before giving up (default 5 000). */
  timeout?: number;
}

export interface BeaconCapture {
  /** Every captured request, in the order they arrived (retries included). */
  readonly batches: readonly CapturedBatch[];
  /** Every event once (the first copy of each event id: retries are copies), in arrival order; filtered by `predicate`. */
  events<T extends WireEvent = WireEvent>(predicate?: (event: WireEvent) => boolean): T[];
  /**
   * The first event matching `predicate`, once it has been sent. While waiting,
   * the page's trackers are asked to flush, so a test does not wait for the
   * batching delay. Throws after `timeout`, listing what was sent.
   */
  waitForEvent<T extends WireEvent = WireEvent>(predicate: (event: WireEvent) => boolean, options?: WaitOptions): Promise<T>;
  /** Asks every tracker of every page of the context to send what it holds, and waits until it has. */
  flush(): Promise<void>;
  /**
   * Flushes, then throws unless nothing was captured since the capture started
   * (or since `clear()`): for consent banners, opt-outs and Do-Not-Track pages.
   */
  expectNothingSent(): Promise<void>;
  /** Forgets what was captured so far. */
  clear(): void;
}

/**
 * Starts capturing the beacons of `target` (given a page, its whole browser
 * context: popups and new tabs too) for the rest of the context's life. Call it
 * before `page.goto`.
 *
 * A beacon sent while a page unloads or closes is invisible to Playwright
 * (Chromium sends it after the page's document is gone): it is not captured and
 * goes to the network. To see what a page sends when it is left, hide it with
 * `hidePage(page)`: sessionbeacon sends the same `page_leave` on hide.
 */
export async function captureBeacons(target: Page | BrowserContext, options: CaptureOptions = {}): Promise<BeaconCapture> {
  const context = isPage(target) ? target.context() : target;
  const endpoint = options.endpoint ?? '**/collect';
  const matcher = typeof endpoint === 'function' ? (url: URL) => endpoint(url) : endpoint;
  const batches: CapturedBatch[] = [];
  let inFlight = 0;

  const handler = async (route: Route) => {
    const request = route.request();
    const origin = (await request.headerValue('origin').catch(() => null)) ?? '*';
    const cors = { 'access-control-allow-origin': origin, 'access-control-expose-headers': 'retry-after', vary: 'origin' };
    if (request.method() === 'OPTIONS')
      return route.fulfill({ status: 204, headers: { ...cors, 'access-control-allow-methods': 'POST', 'access-control-allow-headers': 'content-type' } });
    if (request.method() !== 'POST') return route.fallback();
    inFlight++;
    try {
      let body: Batch;
      try {
        body = JSON.parse(request.postData() ?? '') as Batch;
        if (!body || !Array.isArray(body.events)) throw new Error('no events');
      } catch (error) {
        return await route.fulfill({ status: 400, headers: cors, contentType: 'application/json', body: JSON.stringify({ error: `not a batch: ${(error as Error).message}` }) });
      }
      const answer = options.respond?.(body) ?? { status: 200 };
      // Recorded whatever the answer: the page sent it (expectNothingSent counts an aborted request too).
      batches.push({ url: request.url(), capturedAt: Date.now(), body, via: request.resourceType() === 'ping' ? 'beacon' : 'fetch', status: answer === 'abort' ? 0 : answer.status });
      if (answer === 'abort') return await route.abort('failed');
      await route.fulfill({
        status: answer.status,
        headers: { ...cors, ...answer.headers },
        contentType: 'application/json',
        body: answer.body ?? (answer.status < 300 ? JSON.stringify({ accepted: body.events.length, duplicates: 0, stale: 0 }) : JSON.stringify({ error: 'refused by the test' })),
      });
    } finally {
      inFlight--;
    }
  };
  await context.route(matcher, handler);

  const events = <T extends WireEvent>(predicate: (event: WireEvent) => boolean = () => true): T[] => {
    const seen = new Set<string>();
    const out: T[] = [];
    for (const batch of batches)
      for (const event of expandEvents(batch.body))
        if (!seen.has(event.id)) {
          seen.add(event.id);
          if (predicate(event)) out.push(event as T);
        }
    return out;
  };

  const flush = async () => {
    await Promise.all(context.pages().map((page) => flushTrackers(page)));
    // A request the browser sent is in our handler by the time the page's fetch settles; wait for the handler too.
    while (inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 5));
  };

  return {
    batches,
    events,
    flush,
    async waitForEvent<T extends WireEvent>(predicate: (event: WireEvent) => boolean, { timeout = 5000 }: WaitOptions = {}) {
      const deadline = Date.now() + timeout;
      for (;;) {
        const [found] = events<T>(predicate);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`no matching event was sent within ${timeout} ms; sent: ${describe(events())}`);
        await flush();
        if (!events(predicate).length) await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async expectNothingSent() {
      await flush();
      if (batches.length) throw new Error(`expected nothing sent, but ${batches.length} request(s) were: ${describe(events())}`);
    },
    clear() {
      batches.length = 0;
    },
  };
}

/**
 * Asks every sessionbeacon tracker of `page` to send what it holds, and waits
 * until it has (script tag and npm trackers alike: each registers itself on the
 * page). A page that is navigating away is skipped.
 */
export async function flushTrackers(page: Page): Promise<void> {
  await page
    .evaluate(async (key) => {
      const live = (window as unknown as Record<symbol, Set<{ flush(): Promise<void> }> | undefined>)[Symbol.for(key)];
      await Promise.all([...(live ?? [])].map((tracker) => tracker.flush()));
    }, Symbol.keyFor(TRACKERS)!)
    .catch(() => {}); // the page closed or navigated: nothing of it to flush here
}

/** The IDs a page's tracker uses (deviceId, visitId, tabId, sessionId, pageId, ...). */
export type TrackerIds = Partial<Record<'deviceId' | 'anonymousId' | 'identityId' | 'visitId' | 'sessionId' | 'tabId' | 'pageId', string>>;

/**
 * The IDs of the first tracker of `page`, once it has started (a tracker reads
 * them from storage as it starts): to find this test's rows in the collector,
 * or to compare two tabs. A cookieless tracker has no deviceId, visitId or
 * sessionId: its IDs are `{ tabId, pageId }`.
 */
export async function trackerIds(page: Page, { timeout = 5000 }: WaitOptions = {}): Promise<TrackerIds> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const ids = await page
      .evaluate((key) => {
        const live = (window as unknown as Record<symbol, Set<{ ids(): Record<string, string | undefined> }> | undefined>)[Symbol.for(key)];
        const [first] = live ?? [];
        const ids = first?.ids();
        // A cookieless tracker's IDs are its tabId and pageId alone (README, "Cookieless mode").
        return ids && { ids, cookieless: !('visitId' in ids) };
      }, Symbol.keyFor(TRACKERS)!)
      .then((found) => found && (found.cookieless || found.ids.visitId) ? found.ids : undefined)
      .catch(() => undefined);
    if (ids?.tabId && ids.pageId) return ids;
    if (Date.now() > deadline) throw new Error(`no started sessionbeacon tracker on ${page.url()} within ${timeout} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Makes `page` hidden, as when its tab is switched away from or minimised:
 * `document.visibilityState` reads 'hidden' and `visibilitychange` fires (the
 * web-vitals tests' way; headless Chromium has no real hide). sessionbeacon then
 * reports the page's `page_leave` and sends what it holds. `showPage` undoes it.
 */
export async function hidePage(page: Page): Promise<void> {
  await setVisibility(page, 'hidden');
}

/** Makes a page hidden by `hidePage` visible again (`visibilitychange` fires). */
export async function showPage(page: Page): Promise<void> {
  await setVisibility(page, 'visible');
}

function setVisibility(page: Page, state: 'hidden' | 'visible'): Promise<void> {
  return page.evaluate((to) => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => to });
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => to === 'hidden' });
    document.dispatchEvent(new Event('visibilitychange'));
  }, state);
}

const isPage = (target: Page | BrowserContext): target is Page => typeof (target as Page).context === 'function';

function describe(events: WireEvent[]): string {
  if (!events.length) return 'nothing';
  return events.map((e) => (e.type === 'track' ? `track "${e.name}"` : e.type === 'page_view' ? `page_view ${e.url}` : e.type)).join(', ');
}
