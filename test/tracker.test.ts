import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createTracker, type Tracker } from '../src/client/index';
import { IDENTITY_KEY, encodeIdentity } from '../src/client/ids';
import { TAB_KEY } from '../src/client/tab';
import { VISIT_KEY } from '../src/client/visit';
import { TRACKERS, type TrackerHandle } from '../src/client/registry';
import { LIMITS, type PageLeaveEvent, type PageViewEvent, type TrackEvent, type WireEvent } from '../src/protocol';
import { byType, channelBus, memoryArea, newBrowser, serialLocks, setVisibility, settle, testEnv } from './helpers';

const T0 = Date.UTC(2026, 10, 22, 9, 0, 0);
const MIN = 60_000;
const IDS = ['deviceId', 'anonymousId', 'visitId', 'sessionId', 'tabId', 'pageId'] as const;

let trackers: Tracker[] = [];
/** Two trackers in one happy-dom window stand for two tabs: one tracker per endpoint and project is allowed on a page, so the second tab's has its own. */
const TAB2 = '/c?tab=2';

/** happy-dom's PageTransitionEvent drops `persisted`: build the event a browser sends. */
const transition = (type: 'pageshow' | 'pagehide', persisted: boolean) => Object.assign(new Event(type), { persisted });

/** Changes the URL the way a fragment link or the back button does (no pushState), then fires the browser's event. */
function navigateWithoutHistoryApi(path: string, event: Event) {
  (window as unknown as { happyDOM: { setURL(url: string): void } }).happyDOM.setURL(new URL(path, location.href).href);
  window.dispatchEvent(event);
}
function start(...args: Parameters<typeof createTracker>) {
  const t = createTracker(...args);
  trackers.push(t);
  return t;
}

beforeEach(() => {
  vi.useFakeTimers({ now: T0 });
  history.replaceState(null, '', '/landing?utm_source=news&utm_medium=email&gclid=abc');
  Object.defineProperty(document, 'visibilityState', { value: 'visible', configurable: true });
  Object.defineProperty(document, 'prerendering', { value: false, configurable: true });
  document.title = 'Landing';
});

afterEach(async () => {
  for (const t of trackers) await t.destroy();
  trackers = [];
  vi.useRealTimers();
});

describe('createTracker', () => {
  it('sends one page_view with every ID and the page context in one request, from { endpoint } alone', async () => {
    const { env, transport } = testEnv();
    start({ endpoint: '/collect' }, env);
    await settle(999);
    expect(transport.batches).toHaveLength(0); // batched, not sent per event
    await settle(1);
    expect(transport.batches).toHaveLength(1);
    const [batch] = transport.batches;
    expect(batch).toMatchObject({ v: 1, sentAt: T0 + 1000, sdk: '0.1.0' });
    const view = transport.events[0] as PageViewEvent;
    // The IDs every event of the batch shares travel once, at its top.
    for (const key of IDS) expect(batch[key]).toBe(view[key]);
    expect(batch.events[0]).not.toHaveProperty('deviceId');
    expect(view).toMatchObject({
      type: 'page_view',
      ts: T0,
      seq: 0,
      url: 'http://localhost:3000/landing?utm_source=news&utm_medium=email&gclid=abc',
      title: 'Landing',
      navigationType: 'navigate',
      utmSource: 'news',
      utmMedium: 'email',
      clickIds: { gclid: 'abc' },
      timezoneOffset: expect.any(Number),
    });
    for (const key of IDS) expect(view[key]).toMatch(/^id\d+$/);
    expect(view.id).toMatch(/^id\d+$/);
  });

  it('numbers events per tab and keeps ts of the moment of the call', async () => {
    const { env, transport } = testEnv();
    const t = start({ endpoint: '/c' }, env);
    vi.setSystemTime(T0 + 10);
    t.track('add_to_cart', { sku: 'A1', qty: 2 });
    vi.setSystemTime(T0 + 20);
    t.track('checkout');
    await t.flush();
    const [view, a, b] = transport.events as [PageViewEvent, TrackEvent, TrackEvent];
    expect([view.seq, a.seq, b.seq]).toEqual([0, 1, 2]);
    expect(a).toMatchObject({ type: 'track', name: 'add_to_cart', properties: { sku: 'A1', qty: 2 }, ts: T0 + 10, pageId: view.pageId });
    expect(b).toMatchObject({ name: 'checkout', ts: T0 + 20 });
    expect(b).not.toHaveProperty('properties');
    expect(new Set(transport.events.map((e) => e.id)).size).toBe(3);
  });

  it('a burst of 20 tracked events is one request', async () => {
    const { env, transport } = testEnv();
    const t = start({ endpoint: '/c' }, env);
    await settle(1000);
    const before = transport.batches.length;
    for (let i = 0; i < 20; i++) t.track('burst', { i });
    await settle(1000);
    expect(transport.batches.length - before).toBe(1);
    expect(transport.batches.at(-1)!.events).toHaveLength(20);
  });

  it('identify sets identityId on later events; reset gives a new anonymousId and no identityId', async () => {
    const { env, transport } = testEnv();
    const t = start({ endpoint: '/c' }, env);
    t.track('before');
    t.identify('user-123', { plan: 'pro' });
    t.track('after');
    t.reset();
    t.track('logged_out');
    await t.flush();
    const [view, before, identify, after, out] = transport.events;
    expect(before).not.toHaveProperty('identityId');
    expect(identify).toMatchObject({ type: 'identify', identityId: 'user-123', traits: { plan: 'pro' } });
    expect(after).toMatchObject({ identityId: 'user-123', anonymousId: view.anonymousId });
    expect(out).not.toHaveProperty('identityId');
    expect(out.anonymousId).not.toBe(view.anonymousId);
    expect(out.deviceId).toBe(view.deviceId);
    expect(t.ids).toMatchObject({ deviceId: view.deviceId, anonymousId: out.anonymousId });
    expect(t.ids.identityId).toBeUndefined();
  });

  it('keeps the visit at 29:59.999 of inactivity and starts a new visit and session at 30:00.000', async () => {
    const { env, transport } = testEnv();
    const t = start({ endpoint: '/c', heartbeatInterval: 0 }, env);
    await settle(0);
    vi.setSystemTime(T0 + 30 * MIN - 1);
    t.track('still');
    vi.setSystemTime(T0 + 60 * MIN - 1); // exactly 30:00.000 after the last activity
    t.track('new_visit');
    await t.flush();
    const [view, still, next] = transport.events;
    expect(still.visitId).toBe(view.visitId);
    expect(still.sessionId).toBe(view.sessionId);
    expect(next.visitId).not.toBe(view.visitId);
    expect(next.sessionId).not.toBe(view.sessionId);
    expect(next.tabId).toBe(view.tabId);
    expect(next.pageId).toBe(view.pageId);
  });

  it('a configured inactivityTimeout moves the boundary', async () => {
    const { env, transport } = testEnv();
    const t = start({ endpoint: '/c', inactivityTimeout: 5 * MIN }, env);
    vi.setSystemTime(T0 + 5 * MIN);
    t.track('x');
    await t.flush();
    expect(transport.events[1].visitId).not.toBe(transport.events[0].visitId);
  });

  it('real interactions keep the visit alive; heartbeats and page leaves do not', async () => {
    const { env, transport } = testEnv();
    const t = start({ endpoint: '/c', heartbeatInterval: 10_000, idleTimeout: 30_000 }, env);
    await settle(0);
    // 25 minutes later the person scrolls: same visit.
    vi.setSystemTime(T0 + 25 * MIN);
    window.dispatchEvent(new Event('scroll'));
    // Then only timers run for 31 minutes.
    await settle(31 * MIN);
    setVisibility('hidden'); // page_leave: a report, not activity
    setVisibility('visible'); // the page becoming visible is activity, 31 min after the scroll
    t.track('back');
    await t.flush();
    const events = transport.events;
    const visitId = events[0].visitId;
    const pings = byType(events, 'page_ping');
    // Pings only while activeTime grows (up to 30 s after the scroll), all in the first visit.
    expect(pings.length).toBeGreaterThan(0);
    expect(pings.every((p) => p.visitId === visitId && p.ts <= T0 + 25 * MIN + 40_000)).toBe(true);
    expect(byType(events, 'page_leave')[0].visitId).toBe(visitId);
    const back = byType(events, 'track')[0];
    expect(back.visitId).not.toBe(visitId);
  });

  it('reports the page activeTime on hide, flushing at once with leaving = true', async () => {
    const { env, transport } = testEnv();
    start({ endpoint: '/c', idleTimeout: 30_000 }, env);
    await settle(0);
    vi.setSystemTime(T0 + 10_000);
    window.dispatchEvent(new Event('keydown'));
    vi.setSystemTime(T0 + 20_000);
    window.dispatchEvent(new Event('pointerdown'));
    vi.setSystemTime(T0 + 100_000); // idle since 20 s + 30 s
    setVisibility('hidden');
    await settle(0);
    const leave = byType(transport.events, 'page_leave')[0] as PageLeaveEvent;
    expect(leave).toMatchObject({ activeTime: 50_000, userActions: 2, ts: T0 + 100_000 });
    expect(transport.leaving.at(-1)).toBe(true);
    setVisibility('visible');
  });

  it('counts SPA route changes as page views; the same URL twice is one page view', async () => {
    const { env, transport } = testEnv();
    const t = start({ endpoint: '/c' }, env);
    await settle(0);
    vi.setSystemTime(T0 + 5000);
    history.pushState({}, '', '/products');
    history.replaceState({ scroll: 1 }, '', '/products'); // same URL: not a page view
    history.pushState({}, '', '/products?page=2');
    // What the browser does for a fragment link and for the back button.
    navigateWithoutHistoryApi('/products?page=2#reviews', new HashChangeEvent('hashchange'));
    navigateWithoutHistoryApi('/products?page=2', new PopStateEvent('popstate'));
    await t.flush();
    const views = byType(transport.events, 'page_view') as PageViewEvent[];
    expect(views.map((v) => new URL(v.url).pathname + new URL(v.url).search + new URL(v.url).hash)).toEqual([
      '/landing?utm_source=news&utm_medium=email&gclid=abc',
      '/products',
      '/products?page=2',
      '/products?page=2#reviews',
      '/products?page=2',
    ]);
    expect(new Set(views.map((v) => v.pageId)).size).toBe(5);
    expect(views[1]).toMatchObject({ navigationType: 'route', referrer: views[0].url, ts: T0 + 5000 });
    // Each page left reported its activeTime before the next page view.
    const types = transport.events.filter((e) => e.type !== 'page_ping').map((e) => e.type);
    expect(types).toEqual(['page_view', 'page_leave', 'page_view', 'page_leave', 'page_view', 'page_leave', 'page_view', 'page_leave', 'page_view']);
    expect(views.every((v) => v.visitId === views[0].visitId && v.sessionId === views[0].sessionId)).toBe(true);
  });

  it('autoPageViews: false leaves routing to page()', async () => {
    const { env, transport } = testEnv();
    const t = start({ endpoint: '/c', autoPageViews: false }, env);
    history.pushState({}, '', '/manual');
    await t.flush();
    expect(byType(transport.events, 'page_view')).toHaveLength(1);
    t.page();
    await t.flush();
    expect(byType(transport.events, 'page_view')).toHaveLength(2);
  });

  it('a restore from the back/forward cache is a new page view with a new pageId', async () => {
    const { env, transport } = testEnv();
    const t = start({ endpoint: '/c' }, env);
    await settle(0);
    window.dispatchEvent(transition('pagehide', true));
    vi.setSystemTime(T0 + 60_000);
    window.dispatchEvent(transition('pageshow', true));
    await t.flush();
    const views = byType(transport.events, 'page_view') as PageViewEvent[];
    expect(views).toHaveLength(2);
    expect(views[1]).toMatchObject({ navigationType: 'back_forward_cache', ts: T0 + 60_000, visitId: views[0].visitId, sessionId: views[0].sessionId });
    expect(views[1].pageId).not.toBe(views[0].pageId);
  });

  it('a prerendered page counts nothing until it is shown', async () => {
    Object.defineProperty(document, 'prerendering', { value: true, configurable: true });
    const { env, transport } = testEnv();
    const t = start({ endpoint: '/c' }, env);
    t.track('during_prerender');
    await settle(5000);
    await t.flush();
    expect(transport.batches).toHaveLength(0);
    expect(t.ids.pageId).toBeUndefined();
    vi.setSystemTime(T0 + 7000);
    Object.defineProperty(document, 'prerendering', { value: false, configurable: true });
    document.dispatchEvent(new Event('prerenderingchange'));
    await t.flush();
    const [view, tracked] = transport.events as [PageViewEvent, TrackEvent];
    expect(view).toMatchObject({ type: 'page_view', navigationType: 'prerender' });
    expect(tracked).toMatchObject({ type: 'track', name: 'during_prerender', pageId: view.pageId });
  });

  it('replays calls made before it existed in order, each with its own moment and page', async () => {
    const { env, transport } = testEnv();
    const base = 'http://localhost:3000';
    start({ endpoint: '/c' }, env, [
      { method: 'track', args: ['early'], ts: T0 - 300, url: `${base}/landing?utm_source=news&utm_medium=email&gclid=abc`, title: 'Landing' },
      { method: 'identify', args: ['u1'], ts: T0 - 200, url: `${base}/next`, title: 'Next' },
      { method: 'bogus', args: [], ts: T0 - 150, url: `${base}/next`, title: 'Next' },
    ]);
    await settle(1000);
    const events = transport.events;
    expect(events.map((e) => [e.type, e.ts])).toEqual([
      ['page_view', T0 - 300],
      ['track', T0 - 300],
      ['page_leave', T0 - 200],
      ['page_view', T0 - 200],
      ['identify', T0 - 200],
      ['page_leave', T0],
      ['page_view', T0],
    ]);
    expect((events[3] as PageViewEvent).url).toBe(`${base}/next`);
    expect(events[4].pageId).toBe(events[3].pageId);
  });

  it('never throws into the page, whatever it is given', async () => {
    const { env } = testEnv();
    const t = start({ endpoint: '/c' }, env);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const hostile = [undefined, null, 0, NaN, {}, [], () => {}, Symbol('s'), 10n, cyclic, 'x'.repeat(100_000)];
    for (const a of hostile)
      for (const b of hostile) {
        expect(() => t.track(a as never, b as never)).not.toThrow();
        expect(() => t.identify(a as never, b as never)).not.toThrow();
      }
    expect(() => t.page()).not.toThrow();
    await expect(t.flush()).resolves.toBeUndefined();
    expect(() => createTracker(undefined as never, env)).not.toThrow();
    expect(() => createTracker(Symbol() as never, env).track('x')).not.toThrow();
    // A throwing transport, a throwing clock: still nothing reaches the page.
    const bad = createTracker({ endpoint: '/c' }, { ...env, transport: () => { throw new Error('net'); }, now: () => { throw new Error('clock'); } });
    expect(() => bad.track('x')).not.toThrow();
    await expect(bad.flush()).resolves.toBeUndefined();
    await expect(bad.destroy()).resolves.toBeUndefined();
  });

  it('drops properties that cannot be sent, keeps the event', async () => {
    const { env, transport } = testEnv();
    const t = start({ endpoint: '/c' }, env);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    t.track('cyclic', cyclic);
    t.track('big', { blob: 'x'.repeat(20_000) });
    t.track('array', [1, 2] as never);
    t.track('', {});
    await t.flush();
    const tracked = byType(transport.events, 'track') as TrackEvent[];
    expect(tracked.map((e) => [e.name, 'properties' in e])).toEqual([['cyclic', false], ['big', false], ['array', false]]);
  });

  it('flush() resolves when the request was answered, and a failed request is sent again', async () => {
    const { env, transport } = testEnv();
    const t = start({ endpoint: '/c' }, env);
    transport.fail = true;
    await t.flush();
    expect(transport.batches).toHaveLength(0);
    transport.fail = false;
    await settle(1000);
    expect(transport.events.map((e) => e.type)).toEqual(['page_view']);
  });
});

describe('storage and IDs', () => {
  it('keeps deviceId, visitId, tabId and sessionId across a reload, with a new pageId', async () => {
    const browser = newBrowser();
    const session = new Map<string, string>();
    const first = testEnv({ browser, session });
    const a = start({ endpoint: '/c' }, first.env);
    await a.flush();
    await a.destroy();
    vi.setSystemTime(T0 + 5000);
    const second = testEnv({ browser, session, newId: first.env.newId });
    const b = start({ endpoint: '/c' }, second.env);
    await settle(100); // the tab asks whether anyone else holds its tabId
    await b.flush();
    const [before, after] = [first.transport.events[0], second.transport.events[0]];
    for (const key of ['deviceId', 'anonymousId', 'visitId', 'sessionId', 'tabId'] as const) expect(after[key]).toBe(before[key]);
    expect(after.pageId).not.toBe(before.pageId);
    expect(after.seq).toBeGreaterThan(before.seq);
  });

  it('a second tab shares deviceId and visitId, with its own tabId and sessionId', async () => {
    const browser = newBrowser();
    const bus = channelBus();
    const locks = serialLocks();
    const one = testEnv({ browser, channel: bus, locks });
    const a = start({ endpoint: '/c' }, one.env);
    await a.flush();
    const two = testEnv({ browser, channel: bus, locks, newId: one.env.newId });
    const b = start({ endpoint: TAB2 }, two.env);
    await b.flush();
    const [x, y] = [one.transport.events[0], two.transport.events[0]];
    expect(y.deviceId).toBe(x.deviceId);
    expect(y.visitId).toBe(x.visitId);
    expect(y.tabId).not.toBe(x.tabId);
    expect(y.sessionId).not.toBe(x.sessionId);
  });

  it('a duplicated tab (copied sessionStorage) gets a new tabId and sessionId', async () => {
    const browser = newBrowser();
    const bus = channelBus();
    const one = testEnv({ browser, channel: bus });
    const a = start({ endpoint: '/c' }, one.env);
    await a.flush();
    // The browser copies sessionStorage into the duplicate.
    const original = one.transport.events[0];
    const copied = new Map<string, string>();
    copied.set(TAB_KEY, `${original.tabId}:${original.sessionId}:${original.visitId}:1`);
    const two = testEnv({ browser, channel: bus, session: copied, newId: one.env.newId });
    const b = start({ endpoint: TAB2 }, two.env);
    await settle(100);
    await b.flush();
    const dup = two.transport.events[0];
    expect(dup.tabId).not.toBe(original.tabId);
    expect(dup.sessionId).not.toBe(original.sessionId);
    expect(dup.visitId).toBe(original.visitId);
    expect(dup.deviceId).toBe(original.deviceId);
  });

  it('clearing cookies and localStorage keeps the deviceId from IndexedDB, already in the first beacon', async () => {
    const browser = newBrowser();
    browser.idb.set(IDENTITY_KEY, encodeIdentity({ deviceId: 'dev-from-idb', anonymousId: 'anon-from-idb' }));
    const { env, transport } = testEnv({ browser });
    // IndexedDB answers slowly: the first beacon must wait for it.
    const slow = env.storage;
    env.storage = (canStore) => {
      const areas = slow(canStore);
      return { ...areas, idb: { ...areas.idb, get: (k) => new Promise((r) => setTimeout(() => r(areas.idb.get(k)), 1500)) } };
    };
    const t = start({ endpoint: '/c' }, env);
    await settle(1000);
    expect(transport.batches).toHaveLength(0);
    await settle(1500);
    await t.flush();
    expect(transport.events[0]).toMatchObject({ deviceId: 'dev-from-idb', anonymousId: 'anon-from-idb' });
    expect(browser.cookie.get(IDENTITY_KEY)).toContain('dev-from-idb');
    expect(browser.local.get(IDENTITY_KEY)).toContain('dev-from-idb');
  });

  it('contains a storage seam that throws: nothing reaches the page', async () => {
    const { env, transport } = testEnv();
    env.storage = () => {
      const broken = memoryArea();
      broken.broken = true;
      const fail = () => Promise.reject(new Error('x'));
      return { cookie: broken, local: broken, session: broken, idb: { get: fail, set: fail, del: fail, keys: fail } };
    };
    // The tracker's own areas swallow failures; here the raw ones throw, as a hostile host could make them.
    const t = start({ endpoint: '/c' }, env);
    t.track('x');
    await expect(t.flush()).resolves.toBeUndefined();
    expect(transport.events).toHaveLength(0); // raw throwing areas: nothing built, and nothing thrown
  });

  it('with the real areas over throwing storage, IDs live in memory and beacons still go', async () => {
    const { transport } = testEnv();
    const blocked = () => {
      throw new DOMException('blocked', 'SecurityError');
    };
    const fakeWin = Object.create(window, {
      localStorage: { get: blocked },
      sessionStorage: { get: blocked },
    }) as Window;
    const t = start({ endpoint: '/c' }, { window: fakeWin, transport: transport.send, now: () => Date.now() });
    t.track('x');
    await settle(1100);
    await t.flush();
    expect(transport.events.map((e) => e.type)).toEqual(['page_view', 'track']);
    expect(transport.events[1].deviceId).toBe(transport.events[0].deviceId);
  });

  it('cookies: false writes no cookie and keeps the IDs in localStorage', async () => {
    const browser = newBrowser();
    const { env, transport } = testEnv({ browser });
    const base = env.storage;
    env.storage = (canStore) => ({ ...base(canStore), cookie: memoryArea(new Map(), () => false) });
    start({ endpoint: '/c', cookies: false }, env);
    await settle(1000);
    expect(transport.events).toHaveLength(1);
    expect(browser.cookie.size).toBe(0);
    expect(browser.local.get(IDENTITY_KEY)).toContain(transport.events[0].deviceId);
  });
});

describe('orphaned queues', () => {
  it('are adopted at start, and looked for again a little later (a closing page may still hold its lock)', async () => {
    const browser = newBrowser();
    const locks = serialLocks();
    const old = (id: string) => ({ id, type: 'track', name: 'left_behind', ts: T0 - 1000, seq: 1, deviceId: 'd', anonymousId: 'a', visitId: 'v', sessionId: 's', tabId: 't', pageId: 'p' });
    browser.idb.set('sb_q:closing', JSON.stringify({ lease: T0, events: [old('o1'), old('o2')] }));
    locks.held.add('sessionbeacon:q:closing'); // its page is still closing
    const { env, transport } = testEnv({ browser, locks });
    start({ endpoint: '/c' }, env);
    await settle(1000);
    expect(transport.events.some((e) => e.id === 'o1')).toBe(false);
    locks.held.delete('sessionbeacon:q:closing'); // the browser lets go of the closed page's lock
    await settle(2000);
    expect(transport.events.filter((e) => e.type === 'track').map((e) => e.id).sort()).toEqual(['o1', 'o2']);
    expect(browser.idb.has('sb_q:closing')).toBe(false);
  });
});

describe('consent', () => {
  it("consent 'pending' stores and sends nothing until optIn, then sends what waited", async () => {
    const browser = newBrowser();
    const { env, transport } = testEnv({ browser });
    const t = start({ endpoint: '/c', consent: 'pending' }, env);
    t.track('before_consent');
    await settle(5000);
    setVisibility('hidden');
    setVisibility('visible');
    await t.flush();
    expect(transport.batches).toHaveLength(0);
    expect(browser.cookie.has(IDENTITY_KEY) || browser.local.has(IDENTITY_KEY) || browser.idb.size > 0).toBe(false);
    expect(browser.local.has(VISIT_KEY)).toBe(false);
    t.optIn();
    await t.flush();
    expect(transport.events.map((e) => e.type).slice(0, 2)).toEqual(['page_view', 'track']);
    expect(browser.local.get(IDENTITY_KEY)).toContain(transport.events[0].deviceId);
    expect(browser.local.get('sb_consent')).toBe('1');
  });

  it('the decision is remembered: the next page with consent pending sends at once', async () => {
    const browser = newBrowser();
    const first = testEnv({ browser });
    const a = start({ endpoint: '/c', consent: 'pending' }, first.env);
    a.optIn();
    await a.destroy();
    const second = testEnv({ browser });
    start({ endpoint: '/c', consent: 'pending' }, second.env);
    await settle(1000);
    expect(second.transport.events).toHaveLength(1);
  });

  it('optOut sends nothing more, deletes the stored IDs, and is remembered', async () => {
    const browser = newBrowser();
    const first = testEnv({ browser });
    const a = start({ endpoint: '/c' }, first.env);
    await a.flush();
    const sent = first.transport.batches.length;
    a.optOut();
    a.track('after_opt_out');
    setVisibility('hidden');
    setVisibility('visible');
    await settle(5000);
    expect(first.transport.batches).toHaveLength(sent);
    expect(browser.local.has(IDENTITY_KEY) || browser.cookie.has(IDENTITY_KEY) || browser.idb.has(IDENTITY_KEY)).toBe(false);
    expect(browser.local.get('sb_consent')).toBe('0');
    const second = testEnv({ browser });
    start({ endpoint: TAB2 }, second.env);
    await settle(5000);
    expect(second.transport.batches).toHaveLength(0);
  });

  it('Global Privacy Control is an opt-out by default; respectGpc: false or an explicit optIn overrides it', async () => {
    Object.defineProperty(navigator, 'globalPrivacyControl', { value: true, configurable: true });
    try {
      const honoured = testEnv();
      const t = start({ endpoint: '/c' }, honoured.env);
      await settle(5000);
      expect(honoured.transport.batches).toHaveLength(0);
      // What happened under the opt-out is gone; from the explicit optIn on, events are sent.
      t.optIn();
      t.track('after_opt_in');
      await t.flush();
      expect(honoured.transport.events.map((e) => e.type)).toEqual(['track']);
      const overridden = testEnv();
      start({ endpoint: TAB2, respectGpc: false }, overridden.env);
      await settle(1000);
      expect(overridden.transport.events).toHaveLength(1);
    } finally {
      Object.defineProperty(navigator, 'globalPrivacyControl', { value: undefined, configurable: true });
    }
  });
});

describe('the page registry (sessionbeacon/testing)', () => {
  it('holds each live tracker: its flush sends what it holds, its ids are the tracker\'s; destroy takes it out', async () => {
    const { env, transport } = testEnv();
    const t = start({ endpoint: '/c', flushInterval: 60_000 }, env);
    await settle();
    const live = (window as unknown as Record<symbol, Set<TrackerHandle>>)[TRACKERS];
    const handle = [...live].at(-1)!;
    expect(handle.ids()).toEqual(t.ids);
    t.track('held');
    expect(transport.events.filter((e: WireEvent) => e.type === 'track')).toHaveLength(0); // waiting for the 60 s batch
    await handle.flush();
    expect(transport.events.map((e: WireEvent) => e.type)).toEqual(['page_view', 'track']);
    await t.destroy();
    expect(live.has(handle)).toBe(false);
  });
});

describe('destroy', () => {
  it('stops listening and sends what was queued', async () => {
    const { env, transport } = testEnv();
    const t = start({ endpoint: '/c' }, env);
    t.track('last');
    await t.destroy();
    expect(transport.events.map((e: WireEvent) => e.type)).toEqual(['page_view', 'track']);
    history.pushState({}, '', '/after-destroy');
    t.track('ignored');
    await settle(5000);
    expect(transport.events).toHaveLength(2);
  });
});

describe('issue 14: defects', () => {
  const storageEvent = (key: string, newValue: string) => window.dispatchEvent(new StorageEvent('storage', { key, newValue }));

  it('an optOut in another tab stops this tab at once: nothing more is sent or stored', async () => {
    const browser = newBrowser();
    const { env, transport } = testEnv({ browser });
    const t = start({ endpoint: '/c' }, env);
    await t.flush();
    expect(transport.events).toHaveLength(1);
    window.dispatchEvent(new Event('scroll')); // a pending throttled visit write
    // The other tab decided: it stored '0' and deleted the IDs; this page hears the storage event.
    browser.local.set('sb_consent', '0');
    storageEvent('sb_consent', '0');
    t.track('after_opt_out_elsewhere');
    setVisibility('hidden');
    setVisibility('visible');
    await settle(10_000);
    expect(transport.events.map((e) => e.type)).toEqual(['page_view']);
    expect([IDENTITY_KEY, VISIT_KEY].some((k) => browser.local.has(k) || browser.cookie.has(k))).toBe(false);
  });

  it("an optIn in another tab sends what this tab held under 'pending', with the first tab's deviceId", async () => {
    const browser = newBrowser();
    const one = testEnv({ browser });
    const two = testEnv({ browser, newId: one.env.newId });
    const a = start({ endpoint: '/c', consent: 'pending' }, one.env);
    const b = start({ endpoint: TAB2, consent: 'pending' }, two.env);
    b.track('waiting_in_b');
    await settle(1000);
    expect(one.transport.batches.length + two.transport.batches.length).toBe(0);
    await a.optIn();
    storageEvent('sb_consent', '1');
    await settle(1000);
    await b.flush();
    expect(two.transport.events.map((e) => e.type)).toEqual(['page_view', 'track']);
    const devices = new Set([...one.transport.events, ...two.transport.events].map((e) => e.deviceId));
    expect(devices.size).toBe(1);
    expect(browser.local.get(IDENTITY_KEY)).toContain([...devices][0]);
  });

  it('pending consent opens no IndexedDB, stores nothing, adopts no queue', async () => {
    const browser = newBrowser();
    browser.idb.set('sb_q:gone', JSON.stringify({ lease: 0, events: [] }));
    const { env } = testEnv({ browser, locks: serialLocks() });
    const touched: string[] = [];
    const base = env.storage;
    env.storage = (canStore) => {
      const areas = base(canStore);
      const spy = <T extends object>(name: string, area: T): T =>
        new Proxy(area, { get: (target, prop) => (typeof (target as never)[prop] === 'function' ? (...args: unknown[]) => (touched.push(`${name}.${String(prop)}`), (target as never as Record<string, (...a: unknown[]) => unknown>)[prop as string](...args)) : (target as never)[prop]) });
      return { ...areas, idb: spy('idb', areas.idb) };
    };
    const t = start({ endpoint: '/c', consent: 'pending' }, env);
    t.track('x');
    await settle(5000);
    expect(touched.filter((c) => c !== 'idb.set')).toEqual([]); // set is refused by canStore before opening anything
    expect(browser.cookie.size + browser.local.size).toBe(0);
  });

  it('two trackers starting at once on a first visit (one page, two endpoints) share one deviceId', async () => {
    const browser = newBrowser();
    const one = testEnv({ browser });
    const two = testEnv({ browser, newId: one.env.newId });
    start({ endpoint: '/c' }, one.env);
    start({ endpoint: TAB2 }, two.env);
    await settle(1000);
    expect(one.transport.events[0].deviceId).toBe(two.transport.events[0].deviceId);
  });

  it('two tabs starting at once on a first visit share one deviceId: decided under the Web Lock', async () => {
    // Each tab's cookie and localStorage lag behind the other's (separate processes); IndexedDB is shared.
    const idb = new Map<string, string>();
    const locks = serialLocks();
    const one = testEnv({ browser: { cookie: new Map(), local: new Map(), idb }, locks });
    const two = testEnv({ browser: { cookie: new Map(), local: new Map(), idb }, locks, newId: one.env.newId });
    start({ endpoint: '/c' }, one.env);
    start({ endpoint: TAB2 }, two.env);
    await settle(1000);
    expect(one.transport.events[0].deviceId).toBe(two.transport.events[0].deviceId);
  });

  it('a second tracker for the same endpoint and project is refused with a console warning', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const { env, transport } = testEnv();
    const a = start({ endpoint: '/c', projectId: 7 }, env);
    const b = start({ endpoint: '/c', projectId: 7 }, env);
    b.track('twice?');
    a.track('once');
    await a.flush();
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).toMatch(/already runs/);
    expect(transport.events.map((e) => e.type)).toEqual(['page_view', 'track']);
    await expect(b.flush()).resolves.toBeUndefined();
    expect(b.ids).toEqual({});
  });

  it('cuts the names and identityIds it sends to the protocol limits, never inside a character', async () => {
    const { env, transport } = testEnv();
    const t = start({ endpoint: '/c' }, env);
    document.title = 'T'.repeat(LIMITS.title - 1) + '😀';
    t.page();
    t.track('n'.repeat(LIMITS.name - 1) + '😀');
    t.identify('u'.repeat(LIMITS.identityId - 1) + '😀');
    await t.flush();
    const [, , view, tracked, identified] = transport.events as [PageViewEvent, PageLeaveEvent, PageViewEvent, TrackEvent, WireEvent & { identityId: string }];
    expect(view.title).toBe('T'.repeat(LIMITS.title - 1));
    expect(tracked.name).toBe('n'.repeat(LIMITS.name - 1));
    expect(identified.identityId).toBe('u'.repeat(LIMITS.identityId - 1));
  });

  it('destroy() lets go of the queue lock and leaves no timer running (lease, visit write, adoption)', async () => {
    const locks = serialLocks();
    const { env } = testEnv({ locks });
    const t = start({ endpoint: '/c', heartbeatInterval: 0 }, env);
    await settle(200);
    vi.setSystemTime(T0 + 6000);
    window.dispatchEvent(new Event('scroll')); // the visit's throttled write is now pending
    expect([...locks.held].some((l) => l.startsWith('sessionbeacon:q:'))).toBe(true);
    await t.destroy();
    await settle(0);
    expect([...locks.held]).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
    const lockless = testEnv();
    const u = start({ endpoint: '/c', heartbeatInterval: 0 }, lockless.env);
    await settle(200);
    await u.destroy();
    await settle(0);
    expect(vi.getTimerCount()).toBe(0); // the lease renewal interval too
  });

  it.each([NaN, Infinity])('inactivityTimeout: %s falls back to 30 minutes (not a new visit on every event)', async (bad) => {
    const { env, transport } = testEnv();
    const t = start({ endpoint: '/c', inactivityTimeout: bad, flushInterval: bad, heartbeatInterval: bad }, env);
    vi.setSystemTime(T0 + 1000);
    t.track('a');
    vi.setSystemTime(T0 + 2000);
    t.track('b');
    await t.flush();
    expect(new Set(transport.events.map((e) => e.visitId)).size).toBe(1);
    expect(transport.events).toHaveLength(3);
  });

  it('a page() called while prerendering keeps the URL and title of its moment', async () => {
    Object.defineProperty(document, 'prerendering', { value: true, configurable: true });
    const { env, transport } = testEnv();
    const t = start({ endpoint: '/c' }, env);
    history.replaceState(null, '', '/during-prerender');
    document.title = 'During';
    t.page();
    history.replaceState(null, '', '/shown');
    document.title = 'Shown';
    Object.defineProperty(document, 'prerendering', { value: false, configurable: true });
    document.dispatchEvent(new Event('prerenderingchange'));
    await t.flush();
    const views = byType(transport.events, 'page_view') as PageViewEvent[];
    // The document's own page view is dated at the first call (as for the stub), then page()'s, then the route it was shown at.
    expect(views.map((v) => [new URL(v.url).pathname, v.title])).toEqual([
      ['/during-prerender', 'During'],
      ['/during-prerender', 'During'],
      ['/shown', 'Shown'],
    ]);
  });
});

describe('start-up (issue 14)', () => {
  it('queues the first page view before anything that can wait: no storage, no lock, no channel, no Intl until the next task', async () => {
    const touched: string[] = [];
    const browser = newBrowser();
    const locks = serialLocks();
    const bus = channelBus();
    const { env, transport } = testEnv({
      browser,
      locks: { request: ((...args: Parameters<typeof locks.request>) => (touched.push('lock'), locks.request(...args))) as typeof locks.request },
      channel: () => (touched.push('channel'), bus()),
    });
    const base = env.storage;
    env.storage = (canStore) => {
      const areas = base(canStore);
      const spy = <T extends object>(name: string, area: T): T =>
        new Proxy(area, { get: (target, prop) => (typeof (target as never)[prop] === 'function' ? (...args: unknown[]) => (touched.push(name), (target as never as Record<string, (...a: unknown[]) => unknown>)[prop as string](...args)) : (target as never)[prop]) });
      return { cookie: spy('cookie', areas.cookie), local: spy('local', areas.local), session: spy('session', areas.session), idb: spy('idb', areas.idb) };
    };
    const intl = vi.spyOn(Intl, 'DateTimeFormat');
    start({ endpoint: '/c' }, env);
    expect(touched).toEqual([]);
    expect(intl).not.toHaveBeenCalled();
    await settle(0);
    expect(new Set(touched)).toEqual(new Set(['cookie', 'local', 'session', 'idb', 'lock', 'channel']));
    await settle(1000);
    expect(transport.events[0]).toMatchObject({ type: 'page_view', ts: T0 });
    expect(intl).toHaveBeenCalled();
  });
});
